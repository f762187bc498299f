import numpy as np
import polars as pl
import pytest
from PIL import Image

from mmpcbench.completion.borrow import borrowed_images, borrowed_texts
from mmpcbench.completion.controls import control_sources, derangement


def control_texts(items, control, seed):
    items = items.sort("parent_asin")
    return borrowed_texts(items, control_sources(items, control, seed), control)


def control_images(items, control, seed, image_root, out_dir, out_root):
    items = items.sort("parent_asin")
    return borrowed_images(items, control_sources(items, control, seed), control, image_root, out_dir, out_root)


@pytest.fixture
def items(tmp_path):
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    rows = []
    for k, colour in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (0, 200, 200)]):
        Image.new("RGB", (40 + k, 30), colour).save(root / f"images/B{k}.png")
        rows.append({"parent_asin": f"B{k}", "text": f"title {k}", "image_path": f"images/B{k}.png"})
    return pl.DataFrame(rows), root


@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_derangement_moves_every_item(n):
    source = derangement(n, seed=1)
    assert sorted(source) == list(range(n)) and (source != np.arange(n)).all()
    assert (derangement(n, seed=1) == source).all()


def test_ground_truth_text_is_identity(items):
    frame = control_texts(items[0], "ground_truth", seed=0)
    assert frame["text"].to_list() == [f"title {k}" for k in range(5)]
    assert (frame["source_asin"] == frame["parent_asin"]).all()


def test_shuffled_text_is_another_items_text_and_seeded(items):
    frame = control_texts(items[0], "shuffled", seed=3)
    assert (frame["source_asin"] != frame["parent_asin"]).all()
    assert all(text == f"title {source[1:]}" for text, source in zip(frame["text"], frame["source_asin"]))
    assert frame.equals(control_texts(items[0].reverse(), "shuffled", seed=3))
    assert not frame.equals(control_texts(items[0], "shuffled", seed=4))


def test_empty_text(items):
    frame = control_texts(items[0], "empty", seed=0)
    assert frame["text"].to_list() == [""] * 5 and frame["source_asin"].is_null().all()


def test_image_controls(items, tmp_path):
    frame, root = items
    results = tmp_path / "results"
    for control in ("ground_truth", "shuffled", "empty"):
        manifest = control_images(frame, control, 7, root, results / control, results)
        for row in manifest.iter_rows(named=True):
            written = results / row["image_path"]
            original = Image.open(root / f"images/{row['parent_asin']}.png")
            if control == "empty":
                image = Image.open(written)
                pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
                assert image.size == original.size and (pixels == 128).all()
            else:
                assert written.read_bytes() == (root / f"images/{row['source_asin']}.png").read_bytes()
                assert (row["source_asin"] == row["parent_asin"]) == (control == "ground_truth")


def test_unknown_control_is_named(items):
    with pytest.raises(ValueError, match="unknown control 'noise'"):
        control_texts(items[0], "noise", seed=0)
