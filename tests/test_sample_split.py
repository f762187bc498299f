import polars as pl
import pytest

from mmpcbench.data.sample import sample_items
from mmpcbench.data.split import rec_split, split_labels


def _items(n):
    return pl.DataFrame({"parent_asin": [f"B{i:04d}" for i in range(n)], "title": ["t"] * n})


def test_sample_is_stable_under_reruns_and_input_order():
    items = _items(500)
    first = sample_items(items, 100, seed=1)
    assert first.equals(sample_items(items.reverse(), 100, seed=1))
    assert not first.equals(sample_items(items, 100, seed=2))
    assert first["parent_asin"].n_unique() == 100


def test_grpo_sample_is_disjoint_from_cq_sample():
    items = _items(300)
    cq = sample_items(items, 200, seed=1)
    grpo = sample_items(items, 50, seed=2, exclude=cq)
    assert grpo.height == 50
    assert set(grpo["parent_asin"]).isdisjoint(cq["parent_asin"])


def test_sample_takes_all_when_too_few():
    assert sample_items(_items(30), 100, seed=1).height == 30


@pytest.mark.parametrize("n, expected", [
    (5, [0, 0, 0, 1, 2]),
    (9, [0] * 7 + [1, 2]),
    (10, [0] * 8 + [1, 2]),
    (15, [0] * 12 + [1] + [2, 2]),  # int(0.2*15)=3 held out: 1 valid, 2 test
    (23, [0] * 19 + [1, 1] + [2, 2]),
    (2, [0, 0]),
])
def test_split_labels_follow_mmrec(n, expected):
    assert split_labels(n) == expected


def _user_history(user, n, start=0):
    return pl.DataFrame({
        "user_id": [user] * n, "parent_asin": [f"i{k}" for k in range(n)], "rating": [5.0] * n,
        "timestamp": [start + 10 * k for k in range(n)][::-1], "line": list(range(n)),
    })


def test_chronological_split_holds_out_the_latest():
    table, counts = rec_split(pl.concat([_user_history("u1", 12), _user_history("u2", 6)]))
    u1 = table.filter(pl.col("user_id") == "u1")
    # timestamps were reversed: i0 is the latest, then i1
    assert u1.filter(pl.col("x_label") == 2)["parent_asin"].to_list() == ["i0"]
    assert u1.filter(pl.col("x_label") == 1)["parent_asin"].to_list() == ["i1"]
    assert counts == {"users": 2, "items": 12, "train": 14, "valid": 2, "test": 2,
                      "users_below_3_train_only": 0, "cold_start_rows_dropped": 0}


def test_ids_are_contiguous_and_zero_based():
    table, _ = rec_split(pl.concat([_user_history("b", 6), _user_history("a", 7)]))
    assert sorted(table["userID"].unique()) == [0, 1]
    assert sorted(table["itemID"].unique()) == list(range(7))
    assert table.filter(pl.col("user_id") == "a")["userID"].unique().item() == 0


def test_random_split_is_seeded():
    frame = pl.concat([_user_history(f"u{u}", 20) for u in range(5)])
    first, _ = rec_split(frame, order="random", seed=3)
    assert first.equals(rec_split(frame, order="random", seed=3)[0])
    assert not first.equals(rec_split(frame, order="random", seed=4)[0])
    assert (first.group_by("user_id").agg((pl.col("x_label") == 2).sum())["x_label"] == 2).all()


def test_grpo_pool_is_drawn_outside_the_rec_set_with_its_covers_fetched(tmp_path):
    import numpy as np
    from PIL import Image

    from mmpcbench.data.pipeline import sample_grpo_pool

    covers = tmp_path / "mirror"
    covers.mkdir()
    rows = []
    for i in range(40):
        url = None
        if i % 10 != 9:  # every tenth item has no cover URL: not eligible
            Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(covers / f"{i}.png")
            url = (covers / f"{i}.png").as_uri()
        if i == 5:  # a cover that cannot be decoded: listed, not in the pool
            (covers / "5.png").write_bytes(b"not an image")
        rows.append({"parent_asin": f"B{i:03d}", "title": "" if i == 7 else f"Item {i}", "description": None,
                     "image_large": url, "image_hi_res": None})
    pl.DataFrame(rows).write_parquet(tmp_path / "items.parquet")
    rec = pl.DataFrame({"parent_asin": [f"B{i:03d}" for i in range(0, 40, 2)]})  # the even items
    rec.write_parquet(tmp_path / "rec_items.parquet")
    pool = sample_grpo_pool(
        catalogue_path=tmp_path / "items.parquet", rec_items_path=tmp_path / "rec_items.parquet",
        text_field="title", url_field="large", n=100, seed=3, folder=tmp_path / "images", root=tmp_path,
        out_path=tmp_path / "grpo_items.parquet", failures_out=tmp_path / "failures.csv",
        fetch={"workers": 2, "retries": 0, "backoff": 0.0, "timeout": 5},
    )
    # odd items, minus no cover URL (9, 19, 29, 39), no title (7) and the undecodable cover (5)
    expected = sorted(f"B{i:03d}" for i in range(1, 40, 2) if i % 10 != 9 and i not in (5, 7))
    assert pool["parent_asin"].to_list() == expected
    assert set(pool["parent_asin"]).isdisjoint(rec["parent_asin"])
    assert all((tmp_path / path).exists() for path in pool["image_path"])
    assert pl.read_csv(tmp_path / "failures.csv")["parent_asin"].to_list() == ["B005"]
    smaller = sample_grpo_pool(
        catalogue_path=tmp_path / "items.parquet", rec_items_path=tmp_path / "rec_items.parquet",
        text_field="title", url_field="large", n=5, seed=3, folder=tmp_path / "images", root=tmp_path,
        out_path=tmp_path / "g2.parquet", failures_out=tmp_path / "f2.csv",
        fetch={"workers": 2, "retries": 0, "backoff": 0.0, "timeout": 5},
    )
    assert smaller.height == 5 and set(smaller["parent_asin"]) <= set(expected)  # a failed cover is replaced
    first = sample_items(pl.read_parquet(tmp_path / "items.parquet").filter(pl.col("parent_asin").is_in(
        [f"B{i:03d}" for i in range(1, 40, 2) if i % 10 != 9 and i != 7])), 5, seed=3)
    assert set(first["parent_asin"]) - {"B005"} <= set(smaller["parent_asin"])  # the first draw is sample_items'
    assert pool.height == len(expected)
