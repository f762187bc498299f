import gzip
import json

import numpy as np
from PIL import Image

from mmpcbench.demo import CatalogueSize, draw_cover, generate_catalogue
from mmpcbench.demo.catalogue import COLOURS


def _lines(path):
    with gzip.open(path, "rt") as handle:
        return handle.read().split("\n")


def test_generator_is_byte_identical_for_the_same_seed(tmp_path):
    size = CatalogueSize(n_items=60, n_users=200)
    for run in ("a", "b"):
        generate_catalogue(tmp_path / run, ["All_Beauty"], "file:///img", seed=5, size=size, write_images=False)
    for name in ("raw/review_categories/All_Beauty.jsonl.gz", "raw/meta_categories/meta_All_Beauty.jsonl.gz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    generate_catalogue(tmp_path / "c", ["All_Beauty"], "file:///img", seed=6, size=size, write_images=False)
    name = "raw/review_categories/All_Beauty.jsonl.gz"
    assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_reviews_have_the_amazon_2023_fields_and_millisecond_timestamps(demo_catalogue):
    root, _ = demo_catalogue
    record = json.loads(_lines(root / "raw/review_categories/Video_Games.jsonl.gz")[0])
    assert set(record) == {
        "rating", "title", "text", "images", "asin", "parent_asin", "user_id", "timestamp", "helpful_vote",
        "verified_purchase",
    }
    assert isinstance(record["rating"], float) and isinstance(record["timestamp"], int)
    assert 1_400_000_000_000 < record["timestamp"] < 1_800_000_000_000  # ms, not s


def test_meta_has_the_amazon_2023_fields_and_a_main_image(demo_catalogue):
    root, _ = demo_catalogue
    record = json.loads(_lines(root / "raw/meta_categories/meta_Video_Games.jsonl.gz")[0])
    for key in ("main_category", "title", "average_rating", "rating_number", "features", "description", "price",
                "images", "videos", "store", "categories", "details", "parent_asin", "bought_together"):
        assert key in record
    assert {"thumb", "large", "variant", "hi_res"} == set(record["images"][0])
    assert any(image["variant"] == "MAIN" for image in record["images"])


def test_title_and_image_show_the_same_colour(demo_catalogue):
    root, _ = demo_catalogue
    for line in _lines(root / "raw/meta_categories/meta_Video_Games.jsonl.gz")[:40]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not record["title"] or "&" in record["title"] or not record["images"]:
            continue
        colour = record["details"]["Colour"]
        assert colour in record["title"].lower()
        image = root / "images/Video_Games" / f"{record['parent_asin']}.jpg"
        centre = np.asarray(Image.open(image).convert("RGB"))[60:68, 60:68].reshape(-1, 3).mean(0)
        distances = {name: np.linalg.norm(centre - np.array(rgb)) for name, rgb in COLOURS.items()}
        # the centre is the product body: its fill colour, or its pattern ink (a darker shade of it)
        assert min(distances, key=distances.get) == colour or distances[colour] < 160


def test_covers_differ_by_each_attribute():
    base = np.asarray(draw_cover(0, "red", "solid", "plastic"), dtype=float)
    for other in (draw_cover(1, "red", "solid", "plastic"), draw_cover(0, "blue", "solid", "plastic"),
                  draw_cover(0, "red", "striped", "plastic"), draw_cover(0, "red", "solid", "wooden")):
        assert np.abs(base - np.asarray(other, dtype=float)).mean() > 1.0


def test_flaws_are_injected_and_reported(demo_catalogue):
    root, flaws = demo_catalogue
    assert flaws["no_description"] and flaws["no_main_image"] and flaws["html_entities"] and flaws["empty_title"]
    assert flaws["duplicate_reviews"] > 0 and flaws["reviews_without_user_id"] == 3
    not_jpeg = root / "images/Video_Games" / f"{flaws['image_not_jpeg'][0]}.jpg"
    assert not_jpeg.read_bytes().startswith(b"<!DOCTYPE html>")
    assert not (root / "images/Video_Games" / f"{flaws['image_404'][0]}-missing.jpg").exists()
