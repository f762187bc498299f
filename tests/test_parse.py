import gzip
import json

import polars as pl
import pytest

from mmpcbench.data.parse import RawFileError, parse_meta, parse_reviews


def _write(path, lines):
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")


def _review(user="U1", item="I1", rating=5.0, ts=1_600_000_000_000, **extra):
    record = {"rating": rating, "title": "t", "text": "x", "images": [], "asin": item, "parent_asin": item,
              "user_id": user, "timestamp": ts, "helpful_vote": 0, "verified_purchase": True, **extra}
    return json.dumps(record)


def test_malformed_lines_are_counted_listed_and_skipped(tmp_path):
    raw = tmp_path / "r.jsonl.gz"
    _write(raw, [_review("U1"), '{"rating": 5.0, "user_id": "U2"', _review("U3"), "[1, 2]", "", _review("U4")])
    report = parse_reviews(raw, tmp_path / "i.parquet")
    frame = pl.read_parquet(tmp_path / "i.parquet")
    assert frame["user_id"].to_list() == ["U1", "U3", "U4"]
    assert frame["line"].to_list() == [1, 3, 6]
    assert report["skipped"] == {"blank_line": 1, "malformed_json": 1, "not_an_object": 1}
    assert [entry["line"] for entry in report["listed"]] == [2, 4, 5]


def test_review_without_user_id_is_listed_as_missing_field(tmp_path):
    raw = tmp_path / "r.jsonl.gz"
    no_user = json.loads(_review("U9"))
    no_user.pop("user_id")
    _write(raw, [_review("U1"), json.dumps(no_user), _review("", item="I2")])
    report = parse_reviews(raw, tmp_path / "i.parquet")
    assert pl.read_parquet(tmp_path / "i.parquet").height == 1
    assert report["skipped"] == {"missing_field:user_id": 2}
    assert sorted(entry["line"] for entry in report["listed"]) == [2, 3]


def test_wrongly_typed_field_is_skipped_not_crashing(tmp_path):
    raw = tmp_path / "r.jsonl.gz"
    _write(raw, [_review("U1"), _review("U2", ts="yesterday"), _review("U3")])
    report = parse_reviews(raw, tmp_path / "i.parquet")
    assert pl.read_parquet(tmp_path / "i.parquet")["user_id"].to_list() == ["U1", "U3"]
    assert sum(report["skipped"].values()) == 1


def test_truncated_gzip_fails_with_a_message_naming_the_file(tmp_path):
    raw = tmp_path / "r.jsonl.gz"
    _write(raw, [_review(f"U{i}") for i in range(2000)])
    data = raw.read_bytes()
    raw.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawFileError, match=r"r\.jsonl\.gz.*truncated or corrupt"):
        parse_reviews(raw, tmp_path / "i.parquet")
    assert not (tmp_path / "i.parquet").exists()  # no half file under the final name


def test_small_blocks_give_the_same_result_as_one_block(parsed_catalogue, demo_catalogue, tmp_path):
    root, _ = demo_catalogue
    out, report, _ = parsed_catalogue  # parsed with 64 KiB blocks
    whole = parse_reviews(root / "raw/review_categories/Video_Games.jsonl.gz", tmp_path / "i.parquet",
                          block_bytes=1 << 30)
    assert pl.read_parquet(tmp_path / "i.parquet").equals(pl.read_parquet(out / "interactions.parquet"))
    assert whole["skipped"] == report["reviews"]["skipped"]


def test_demo_flaws_are_all_accounted_for(parsed_catalogue):
    out, report, flaws = parsed_catalogue
    reviews = report["reviews"]
    assert reviews["skipped"]["malformed_json"] == flaws["review_malformed_lines"]
    assert reviews["skipped"]["missing_field:user_id"] == flaws["reviews_without_user_id"]
    assert reviews["skipped"]["blank_line"] == flaws["review_blank_lines"]
    assert reviews["rows"] + reviews["skipped_total"] == reviews["lines"]
    assert reviews["rows"] == flaws["reviews"] + flaws["reviews_without_meta"]
    assert report["meta"]["skipped"] == {"malformed_json": flaws["meta_malformed_lines"]}


def test_meta_decodes_html_joins_description_and_takes_the_main_image(tmp_path):
    raw = tmp_path / "m.jsonl.gz"
    images = [{"thumb": "t1", "large": "pt01.jpg", "variant": "PT01", "hi_res": None},
              {"thumb": "t2", "large": "main.jpg", "variant": "MAIN", "hi_res": "main_hi.jpg"}]
    _write(raw, [
        json.dumps({"parent_asin": "A", "title": "Salt &amp; Pepper  &quot;Mill&quot;", "description": ["One.", "Two."],
                    "images": images, "main_category": "Home", "store": "S", "details": {"x": 1}, "price": None}),
        json.dumps({"parent_asin": "B", "title": "", "description": [], "images": images[:1]}),
        json.dumps({"parent_asin": "A", "title": "again", "description": [], "images": []}),
    ])
    report = parse_meta(raw, tmp_path / "items.parquet")
    items = pl.read_parquet(tmp_path / "items.parquet")
    first = items.row(0, named=True)
    assert first["title"] == 'Salt & Pepper "Mill"'
    assert first["description"] == "One. Two."
    assert (first["image_large"], first["image_hi_res"]) == ("main.jpg", "main_hi.jpg")
    second = items.row(1, named=True)
    assert second["title"] == "" and second["description"] == "" and second["image_large"] is None
    assert items.height == 2 and report["skipped"] == {"duplicate_parent_asin": 1}
