import polars as pl
import pytest

from mmpcbench.data.select import (
    dedupe_earliest, eligible_items, finalize_rec_set, kcore, select_authors_code, select_kcore,
)


def _interactions(pairs, ratings=None):
    """pairs: list of (user, item); timestamps and lines follow the list order."""
    n = len(pairs)
    return pl.DataFrame({
        "user_id": [u for u, _ in pairs], "parent_asin": [i for _, i in pairs],
        "rating": ratings or [5.0] * n, "timestamp": list(range(1000, 1000 + n)), "line": list(range(1, n + 1)),
    })


def _items(asins, title="A good title", description="desc", image="u.jpg"):
    return pl.DataFrame({
        "parent_asin": asins, "title": [title] * len(asins), "description": [description] * len(asins),
        "main_category": ["c"] * len(asins), "store": ["s"] * len(asins),
        "image_large": [image] * len(asins), "image_hi_res": [None] * len(asins),
    }, schema_overrides={"image_hi_res": pl.String})


def _degrees(frame):
    return (frame.group_by("user_id").len()["len"].min(), frame.group_by("parent_asin").len()["len"].min())


def test_kcore_on_a_hand_made_graph_cascades_until_stable():
    # users a,b,c each rate items 1,2,3 (a 3-core); user d rates items 1 and 4; item 4 only has d.
    pairs = [(u, i) for u in "abc" for i in "123"] + [("d", "1"), ("d", "4"), ("e", "4")]
    core = kcore(_interactions(pairs), 3)
    assert sorted(core["user_id"].unique()) == ["a", "b", "c"]
    assert sorted(core["parent_asin"].unique()) == ["1", "2", "3"]
    assert core.height == 9


def test_kcore_drops_user_with_four_items_at_k5():
    pairs = [(u, i) for u in "abcdef" for i in "12345"] + [("g", i) for i in "1234"]
    core = kcore(_interactions(pairs), 5)
    assert "g" not in core["user_id"].to_list()
    assert _degrees(core) == (5, 6)


def test_kcore_removal_of_an_item_can_remove_a_user():
    # item 6 has only 4 users; dropping it leaves user a with 4 items, so a goes too.
    pairs = [(u, i) for u in "abcdef" for i in "12345"] + [(u, "6") for u in "abcd"]
    pairs = [p for p in pairs if p != ("a", "5")]
    core = kcore(_interactions(pairs), 5)
    assert "a" not in core["user_id"].to_list() and "6" not in core["parent_asin"].to_list()


def test_dedupe_keeps_the_earliest_review_of_a_pair():
    frame = _interactions([("a", "1"), ("a", "2"), ("a", "1")], ratings=[2.0, 5.0, 5.0])
    frame = frame.with_columns(pl.Series("timestamp", [300, 200, 100]))
    kept = dedupe_earliest(frame)
    assert kept.height == 2
    assert kept.filter(pl.col("parent_asin") == "1")["timestamp"].item() == 100


@pytest.mark.parametrize("field, kept", [("title", ["A", "C"]), ("description", ["B", "C"]),
                                         ("title_description", ["A", "B", "C"])])
def test_eligible_items_need_text_in_the_configured_field_and_a_main_image(field, kept):
    items = pl.concat([
        _items(["A"], description=""), _items(["B"], title=""), _items(["C"]), _items(["D"], image=None),
        _items(["E"], title="  ", description=""),
    ])
    assert eligible_items(items, field)["parent_asin"].to_list() == kept


def test_select_kcore_filters_items_before_the_kcore():
    pairs = [(u, i) for u in "abcde" for i in "12345"] + [(u, "6") for u in "abcde"]
    items = pl.concat([_items(list("12345")), _items(["6"], title="", description="")])
    frame, candidates, counts = select_kcore(pl.LazyFrame(_interactions(pairs)), items, "title", k=5)
    assert "6" not in candidates["parent_asin"].to_list()
    assert counts["kcore_items"] == 5 and _degrees(frame) == (5, 5)


def test_item_presampling_is_seeded_and_bounded():
    pairs = [(f"u{u}", f"i{i}") for u in range(30) for i in range(40) if (u + i) % 3]
    items = _items([f"i{i}" for i in range(40)])
    runs = [select_kcore(pl.LazyFrame(_interactions(pairs)), items, "title", k=5, max_items=12, seed=s)
            for s in (1, 1, 2)]
    assert runs[0][1]["parent_asin"].to_list() == runs[1][1]["parent_asin"].to_list()
    assert runs[0][1]["parent_asin"].to_list() != runs[2][1]["parent_asin"].to_list()
    assert runs[0][2]["items_presampled"] == 12 and runs[0][1].height <= 12


def test_authors_rule_takes_users_with_shortest_positive_histories():
    # u1: 5 positives, u2: 7 positives, u3: 4 positives (too few), u4: 6 positives but 2 are rating 3
    pairs, ratings = [], []
    for user, n_pos, n_neg in (("u1", 5, 0), ("u2", 7, 0), ("u3", 4, 0), ("u4", 6, 2)):
        for k in range(n_pos + n_neg):
            pairs.append((user, f"{user}-i{k}"))
            ratings.append(5.0 if k < n_pos else 3.0)
    asins = sorted({item for _, item in pairs})
    items = _items(asins)
    candidates, counts = select_authors_code(pl.LazyFrame(_interactions(pairs, ratings)), items, n_users=2)
    # u3 has too few; of u1 (5), u4 (6), u2 (7) the two shortest are u1 and u4; u4's rating-3 items are out
    assert counts["users_selected"] == 2
    assert sorted({a.split("-")[0] for a in candidates["parent_asin"]}) == ["u1", "u4"]
    assert all(int(a.split("i")[-1]) < 6 for a in candidates["parent_asin"] if a.startswith("u4"))


def test_authors_rule_truncates_histories_and_drops_short_titles():
    pairs = [("u1", f"i{k}") for k in range(25)]
    items = pl.concat([_items([f"i{k}" for k in range(1, 25)]), _items(["i0"], title="Abc")])
    candidates, _ = select_authors_code(pl.LazyFrame(_interactions(pairs)), items, max_user_reviews=20)
    assert candidates.height == 20 and "i0" not in candidates["parent_asin"].to_list()


def test_finalize_kcore_drops_failed_images_and_restores_the_kcore():
    pairs = [(u, i) for u in "abcdef" for i in "123456"]
    frame = _interactions(pairs)
    items = eligible_items(_items(list("123456")), "title")
    images = pl.DataFrame({"parent_asin": list("123456"), "ok": [False] + [True] * 5,
                           "image_path": [None] + [f"{i}.jpg" for i in "23456"]})
    rec, rec_items, counts = finalize_rec_set("kcore", pl.LazyFrame(frame), items, images, k=6,
                                              kcore_interactions=frame)
    # dropping item 1 leaves every user with 5 items < 6: the 6-core is empty
    assert rec.height == 0 and counts["items_without_image"] == 1
    rec, rec_items, _ = finalize_rec_set("kcore", pl.LazyFrame(frame), items, images, k=5, kcore_interactions=frame)
    assert sorted(rec_items["parent_asin"]) == list("23456") and _degrees(rec) == (5, 6)
    assert rec_items["image_path"].to_list() == [f"{i}.jpg" for i in "23456"]


def test_finalize_authors_takes_all_ratings_and_users_with_eight():
    pairs = [("u1", f"i{k}") for k in range(8)] + [("u2", f"i{k}") for k in range(7)] + [("u1", "i0")]
    ratings = [1.0] * len(pairs)
    items = eligible_items(_items([f"i{k}" for k in range(8)]), "title")
    images = pl.DataFrame({"parent_asin": [f"i{k}" for k in range(8)], "ok": [True] * 8,
                           "image_path": ["p"] * 8})
    rec, rec_items, counts = finalize_rec_set("authors_code", pl.LazyFrame(_interactions(pairs, ratings)), items,
                                              images, min_user_interactions=8)
    assert rec["user_id"].unique().to_list() == ["u1"] and rec.height == 8  # deduplicated, u2 has 7


def test_excluded_items_are_counted_by_reason():
    from mmpcbench.data.select import exclusion_counts

    items = pl.concat([_items(["A"], title=""), _items(["B"], image=None), _items(["C"], title="", image=None),
                       _items(["D"])])
    assert exclusion_counts(items, "title") == {
        "items_without_text": 1, "items_without_main_image": 1, "items_without_text_or_image": 1}
