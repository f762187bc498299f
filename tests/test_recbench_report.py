"""RecBench tables: means over seeds, relative difference to ground truth, the seed-spread verdicts."""

import json

import polars as pl
import pytest

from mmpcbench.report.recbench import cells, collect, indistinguishable, per_recommender_tables, write_recbench

METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


def result(path, recall20_by_rate: dict, recommenders=("VBPR",)):
    """A train_recommender JSON whose runs have the given Recall@20 per seed (other metrics follow)."""
    record = {"popularity": {"test": {m: 0.1 for m in METRICS}}, "recommenders": {}}
    for name in recommenders:
        record["recommenders"][name] = {
            str(rate): {"runs": [{"seed": s, "best_epoch": 3, "test": {m: v for m in METRICS}}
                                 for s, v in enumerate(values)]}
            for rate, values in recall20_by_rate.items()
        }
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def frame(tmp_path):
    runs = [
        ("Cat_A", "original", result(tmp_path / "a_gt.json", {0.0: [0.40, 0.42]})),
        ("Cat_A", "i2t-shuffled", result(tmp_path / "a_sh.json", {1.0: [0.30, 0.30]})),
        ("Cat_A", "i2t-model", result(tmp_path / "a_m.json", {1.0: [0.41, 0.41]})),
        ("Cat_B", "original", result(tmp_path / "b_gt.json", {0.0: [0.20, 0.20]})),
        ("Cat_B", "i2t-shuffled", result(tmp_path / "b_sh.json", {1.0: [0.20, 0.20]})),
        ("Cat_B", "i2t-model", result(tmp_path / "b_m.json", {1.0: [0.10, 0.10]})),
    ]
    return runs, cells(collect(runs))


def test_relative_difference_and_seed_spread(frame):
    _, table = frame
    row = table.filter((pl.col("category") == "Cat_A") & (pl.col("method") == "model")).row(0, named=True)
    assert row["recall@20_mean"] == pytest.approx(0.41)
    assert row["recall@20_rel_diff"] == pytest.approx(0.0)  # (0.41 - 0.41) / 0.41
    assert row["recall@20_within_spread"]                    # |0| <= sqrt(0 + 0.01²)
    shuffled = table.filter((pl.col("category") == "Cat_A") & (pl.col("method") == "shuffled")).row(0, named=True)
    assert shuffled["recall@20_rel_diff"] == pytest.approx(-100 * 0.11 / 0.41)
    assert not shuffled["recall@20_within_spread"]


def test_shuffled_within_spread_marks_the_category_as_blind(frame):
    _, table = frame
    blind = indistinguishable(table, 1.0)
    assert blind["category"].to_list() == ["Cat_B"]


def test_all_tables_and_figures_are_written(frame, tmp_path):
    runs, _ = frame
    outputs = {"summary": tmp_path / "summary.csv", "heatmap": tmp_path / "heat.png", "rates": tmp_path / "rates.png"}
    for name in ["table6", *per_recommender_tables(["VBPR"])]:
        for form in ("csv", "md", "tex"):
            outputs[f"{name}_{form}"] = tmp_path / f"{name}.{form}"
    write_recbench(runs, outputs, 1.0, ["model", "shuffled"], {"model": "model", "shuffled": "control"},
                   ["Cat_A", "Cat_B"], ["VBPR"], 2)
    assert all(path.exists() for path in outputs.values())
    overview = pl.read_csv(outputs["table6_csv"])
    model = overview.filter((pl.col("task") == "i2t") & (pl.col("method") == "model")).row(0, named=True)
    assert model["recall@20"] == pytest.approx((0.41 + 0.10) / 2)
    assert model["recall@20_rel_diff"] == pytest.approx((0.0 + -50.0) / 2)
    assert "cannot distinguish completions there" in outputs["tableA12_md"].read_text()
    assert "Cat_B" in outputs["tableA12_md"].read_text()
