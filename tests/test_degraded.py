"""Graded corruption controls (degraded{P}): nested, seeded per item, drawn from other items."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from mmpcbench.completion.controls import control_sources
from mmpcbench.completion.degraded import cells, degraded_image, degraded_texts, severity_of
from mmpcbench.completion.methods import borrowing_method
from mmpcbench.completion.pipeline import complete_by_borrowing
from mmpcbench.config import ConfigError, load_config, validate_config

SEVERITIES = (0.25, 0.5, 0.75)


@pytest.fixture
def catalogue(tmp_path):
    """Six items whose tokens and covers say whose they are: item k's tokens are ``k<letter>``; its cover
    has the pixel value 40·k + 1 everywhere (a 48 × 40 image, so cells are 6 × 5 pixels)."""
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    rows = []
    for k in range(6):
        Image.new("RGB", (40, 48), (40 * k + 1,) * 3).save(root / f"images/B{k}.png")
        words = " ".join(f"{k}{letter}" for letter in "abcdefghij"[: 4 + k])
        rows.append({"parent_asin": f"B{k}", "text": words, "image_path": f"images/B{k}.png"})
    return pl.DataFrame(rows), root


def owner(token: str) -> int:
    return int(token[:-1])


def test_text_tokens_are_replaced_by_other_items_tokens_nested_in_p(catalogue):
    items, _ = catalogue
    texts, asins = items["text"].to_list(), items["parent_asin"].to_list()
    by_p = {p: degraded_texts(texts, p, seed=5, asins=asins) for p in (0.0, *SEVERITIES, 1.0)}
    assert by_p[0.0] == texts
    for k, text in enumerate(texts):
        own = text.split()
        assert all(owner(token) != k for token in by_p[1.0][k].split())  # p = 1: every token another item's
        corrupted_before = set()
        for p in SEVERITIES:
            tokens = by_p[p][k].split()
            assert len(tokens) == len(own)
            corrupted = {j for j, token in enumerate(tokens) if token != own[j]}
            assert corrupted_before <= corrupted  # nested: corrupted at p, corrupted at every larger p ...
            for j in corrupted_before:
                assert tokens[j] == by_p[1.0][k].split()[j]  # ... by the same token
            assert all(owner(tokens[j]) != k for j in corrupted)
            corrupted_before = corrupted
    n_tokens = sum(len(t.split()) for t in texts)
    share = {p: sum(a != b for t, d in zip(texts, by_p[p]) for a, b in zip(t.split(), d.split())) / n_tokens
             for p in SEVERITIES}
    assert share[0.25] < share[0.5] < share[0.75]


def test_text_draws_are_seeded_per_item(catalogue):
    items, _ = catalogue
    texts, asins = items["text"].to_list(), items["parent_asin"].to_list()
    once = degraded_texts(texts, 0.5, seed=5, asins=asins)
    assert once == degraded_texts(texts, 0.5, seed=5, asins=asins)
    assert once != degraded_texts(texts, 0.5, seed=6, asins=asins)
    assert degraded_texts(["", *texts[1:]], 0.5, seed=5, asins=asins)[0] == ""  # nothing to corrupt


def test_text_without_any_other_token_is_refused():
    with pytest.raises(ValueError, match="no other item"):
        degraded_texts(["alone here", ""], 0.5, seed=1, asins=["A", "B"])


def test_image_cells_come_from_the_donor_nested_in_p(catalogue):
    _, root = catalogue
    own, donor = Image.open(root / "images/B1.png"), Image.open(root / "images/B4.png")
    grid = cells(48, 40)
    assert len(grid) == 64 and sum((r.stop - r.start) * (c.stop - c.start) for r, c in grid) == 48 * 40
    replaced_before = set()
    for p in (0.0, *SEVERITIES, 1.0):
        pixels = np.asarray(degraded_image(own, donor, p, seed=3, asin="B1"))
        replaced = {i for i, (r, c) in enumerate(grid) if (pixels[r, c] == 161).all()}
        kept = {i for i, (r, c) in enumerate(grid) if (pixels[r, c] == 41).all()}
        assert len(replaced) == round(64 * p) and len(replaced) + len(kept) == 64
        assert replaced_before <= replaced
        replaced_before = replaced


def test_degraded_methods_through_the_completion_stage(catalogue, tmp_path):
    items, root = catalogue
    rec_items = tmp_path / "rec_items.parquet"
    items.write_parquet(rec_items)
    results = tmp_path / "results"
    donors = dict(zip(items["parent_asin"], control_sources(items, "shuffled", 9)))
    for name in ("degraded25", "degraded75"):
        method = borrowing_method(name)
        assert method.kind == "control" and method.severity == severity_of(name)
        texts = complete_by_borrowing(task="i2t", method=name, rec_items_path=rec_items, out_path=tmp_path / f"{name}.parquet",
                                      seed=9)
        assert texts["source_asin"].is_null().all() and (texts["parse_status"] == name).all()  # encoded, never borrowed
        assert texts.equals(pl.read_parquet(tmp_path / f"{name}.parquet"))
        manifest = complete_by_borrowing(task="t2i", method=name, rec_items_path=rec_items, out_path=tmp_path / "m.parquet",
                                         seed=9, data_root=root, image_folder=results / name, results_root=results)
        for row in manifest.iter_rows(named=True):
            pixels = np.asarray(Image.open(results / row["image_path"]))
            own, donor = 40 * int(row["parent_asin"][1:]) + 1, 40 * int(donors[row["parent_asin"]][1:]) + 1
            assert set(np.unique(pixels)) == {own, donor}  # the item's own cover and its shuffled donor's
            assert (pixels == donor).mean() == pytest.approx(method.severity, abs=0.02)


@pytest.mark.parametrize("name", ["degraded0", "degraded100", "degraded250"])
def test_a_severity_outside_1_to_99_is_refused(name):
    with pytest.raises(ValueError, match="percentage from 1 to 99"):
        borrowing_method(name)


def test_config_names_degraded_controls():
    config = load_config(Path(__file__).parents[1] / "config.yaml")
    config["completion"]["controls"] = ["ground_truth", "degraded30"]
    validate_config(config)
    for controls, message in ((["degraded0"], "percentage from 1 to 99"), (["retrieval"], "is a baseline, not a control"),
                              (["degraded"], "unknown completion method 'degraded'")):
        config["completion"]["controls"] = controls
        with pytest.raises(ConfigError, match=message):
            validate_config(config)
