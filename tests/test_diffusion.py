"""Diffusion through the production loading and painting code, on a tiny random-weight SD3 pipeline."""

import numpy as np
import polars as pl
import pytest
from PIL import Image


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def same_image(a, b):
    """Equal up to float rounding: batched kernels may differ from single ones in the last bits."""
    return np.abs(pixels(a) - pixels(b)).max() <= 2

from mmpcbench.demo.tiny_models import build_tiny_sd3
from mmpcbench.diffusion.paint import DiffusionError, load_pipeline, paint_prompts


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    path = build_tiny_sd3(tmp_path_factory.mktemp("sd3") / "tiny-sd3")
    return {"model": str(path), "dtype": "float32", "steps": 2, "guidance_scale": 0.0, "height": 32, "width": 32,
            "max_sequence_length": 16, "batch_size": 4, "seed": 5}


@pytest.fixture
def completions():
    return pl.DataFrame({
        "parent_asin": ["A1", "A2", "A3", "A4", "A5"],
        "raw": ['{"prompt": "a red mug"}', "garbage", '{"prompt": "a blue vase"}', "```{'prompt': 'green lamp'}```",
                ""],
        "text": ["a red mug", "garbage", "a blue vase", "green lamp", ""],
        "parse_status": ["ok", "not_json", "ok", "repaired", "empty"],
    })


def test_failed_parses_are_never_painted_as_prompts(settings, completions, tmp_path):
    manifest = paint_prompts(completions, settings, tmp_path / "img", tmp_path)
    status = dict(zip(manifest["parent_asin"], manifest["status"]))
    assert status == {"A1": "painted", "A2": "no_prompt", "A3": "painted", "A4": "painted", "A5": "no_prompt"}
    assert manifest.filter(pl.col("status") == "no_prompt")["image_path"].is_null().all()
    for path in manifest["image_path"].drop_nulls():
        assert Image.open(tmp_path / path).size == (32, 32)
    assert not (tmp_path / "img/A2.png").exists()


def test_raw_policy_paints_the_raw_answer_and_says_so(settings, completions, tmp_path):
    manifest = paint_prompts(completions, {**settings, "on_failed_prompt": "raw"}, tmp_path / "img", tmp_path)
    assert dict(zip(manifest["parent_asin"], manifest["status"]))["A2"] == "painted_raw"
    assert dict(zip(manifest["parent_asin"], manifest["status"]))["A5"] == "no_prompt"  # nothing to paint


def test_an_items_image_does_not_depend_on_its_batch(settings, completions, tmp_path):
    paint_prompts(completions, {**settings, "batch_size": 1}, tmp_path / "one", tmp_path)
    paint_prompts(completions, {**settings, "batch_size": 4}, tmp_path / "four", tmp_path)
    for name in ("A1", "A3", "A4"):
        assert same_image(tmp_path / f"one/{name}.png", tmp_path / f"four/{name}.png")
    # and it is the seed that decides: two items with the same prompt get different images
    twins = pl.DataFrame({"parent_asin": ["T1", "T2"], "raw": ["", ""], "text": ["a red mug"] * 2,
                          "parse_status": ["ok", "ok"]})
    paint_prompts(twins, settings, tmp_path / "twins", tmp_path)
    assert not same_image(tmp_path / "twins/T1.png", tmp_path / "twins/T2.png")


def counting_pipeline(settings):
    """The tiny pipeline, and the list of the prompts of each call to it."""
    pipeline, calls = load_pipeline(settings), []

    def counting(prompts, **kwargs):
        calls.append(list(prompts))
        return pipeline(prompts, **kwargs)

    return counting, calls


def test_a_killed_job_repaints_only_what_is_missing(settings, completions, tmp_path):
    counting, calls = counting_pipeline(settings)
    paint_prompts(completions, settings, tmp_path / "img", tmp_path, pipeline=counting)
    first = pixels(tmp_path / "img/A3.png")
    (tmp_path / "img/A3.png").unlink()
    calls.clear()
    paint_prompts(completions, settings, tmp_path / "img", tmp_path, pipeline=counting)
    assert calls == [["a blue vase"]] and np.abs(pixels(tmp_path / "img/A3.png") - first).max() <= 2
    calls.clear()
    paint_prompts(completions, {**settings, "seed": 6}, tmp_path / "img", tmp_path, pipeline=counting)
    assert sum(len(c) for c in calls) == 3  # other settings: every image is painted again


def test_a_missing_pipeline_is_named(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DiffusionError, match=r"'stabilityai/no-such-model'.*HF_HUB_OFFLINE"):
        load_pipeline({"model": "stabilityai/no-such-model", "dtype": "float32"})


def test_a_changed_prompt_or_a_damaged_image_is_repainted_and_the_log_says_why(settings, completions, tmp_path,
                                                                                caplog):
    """Issue #20: an image is reused only if painted from the same prompt with the same settings, intact
    (a new T→I answer used to keep the old picture)."""
    counting, calls = counting_pipeline(settings)
    paint_prompts(completions, settings, tmp_path / "img", tmp_path, pipeline=counting)
    damaged = tmp_path / "img/A1.png"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = bytes(16)
    damaged.write_bytes(bytes(data))
    changed = completions.with_columns(pl.when(pl.col("parent_asin") == "A3").then(pl.lit("a tall blue vase"))
                                       .otherwise(pl.col("text")).alias("text"))
    calls.clear()
    paint_prompts(changed, settings, tmp_path / "img", tmp_path, pipeline=counting)
    assert sorted(sum(calls, [])) == ["a red mug", "a tall blue vase"]
    assert f"{damaged}: damaged" in caplog.text and f"{tmp_path / 'img/A3.png'}: made from other inputs" in caplog.text
    calls.clear()
    paint_prompts(changed, {**settings, "steps": 1}, tmp_path / "img", tmp_path, pipeline=counting)
    assert sum(len(c) for c in calls) == 3 and "made with other settings (differ in steps)" in caplog.text
