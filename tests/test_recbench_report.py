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


def _outputs(tmp_path, tasks=("i2t", "t2i"), recommenders=("VBPR",)):
    outputs = {"summary": tmp_path / "summary.csv", "heatmap": tmp_path / "heat.png", "rates": tmp_path / "rates.png"}
    for name in ["table6", *per_recommender_tables(list(recommenders), tasks)]:
        for form in ("csv", "md", "tex"):
            outputs[f"{name}_{form}"] = tmp_path / f"{name}.{form}"
    return outputs


def test_cells_within_the_seed_spread_of_empty_are_marked_and_counted(tmp_path):
    runs = [
        ("Cat_A", "original", result(tmp_path / "a_gt.json", {0.0: [0.40, 0.42]})),
        ("Cat_A", "i2t-empty", result(tmp_path / "a_e.json", {1.0: [0.30, 0.30]})),
        ("Cat_A", "i2t-model", result(tmp_path / "a_m.json", {1.0: [0.41, 0.41]})),   # beats empty
        ("Cat_B", "original", result(tmp_path / "b_gt.json", {0.0: [0.20, 0.20]})),
        ("Cat_B", "i2t-empty", result(tmp_path / "b_e.json", {1.0: [0.19, 0.21]})),
        ("Cat_B", "i2t-model", result(tmp_path / "b_m.json", {1.0: [0.20, 0.20]})),   # within empty's spread
    ]
    table = cells(collect(runs))
    model = table.filter(pl.col("method") == "model").sort("category")
    assert model["recall@20_within_empty_spread"].to_list() == [False, True]
    assert model["recall@20_beats_empty"].to_list() == [True, False]
    outputs = _outputs(tmp_path, ("i2t",))
    write_recbench(runs, outputs, 1.0, ["model", "empty"], {"model": "model", "empty": "control"},
                   ["Cat_A", "Cat_B"], ["VBPR"], 2, tasks=("i2t",))
    overview = pl.read_csv(outputs["table6_csv"])
    row = overview.filter(pl.col("method") == "model").row(0, named=True)
    assert (row["n_beats_empty"], row["n_versus_empty"]) == (1, 2)
    original = overview.filter(pl.col("method") == "original").row(0, named=True)
    assert (original["n_beats_empty"], original["n_versus_empty"]) == (1, 2)  # Cat_B's own features do not
    md = outputs["table6_md"].read_text()
    assert "beats ∅ (R@20)" in md and "| i2t | model |" in md and "| 1/2 |" in md
    per_recommender = outputs["tableA12_md"].read_text()
    assert "0.2000 ± 0.0000 ≈ ∅" in per_recommender and "0.4100 ± 0.0000 ≈ ∅" not in per_recommender
    assert not (tmp_path / "tableA13.md").exists()  # no T→I runs: no T→I table


def test_captions_say_how_the_runs_were_made_and_how_freedom_treats_zero_rows(tmp_path):
    def made(path, select_on, zero_rows=0):
        record = json.loads(path.read_text())
        record["select_on"] = select_on
        record["features"] = {"modalities": ["text", "image"], "image_normalise": False}
        for entry in record["recommenders"]["FREEDOM"].values():
            entry["zero_feature_rows"] = {"text": zero_rows, "image": 0}
        path.write_text(json.dumps(record))
        return path

    runs = [("Cat_A", "original", made(result(tmp_path / "gt.json", {0.0: [0.4]}, ("FREEDOM",)), "test")),
            ("Cat_A", "i2t-zeros", made(result(tmp_path / "z.json", {1.0: [0.3]}, ("FREEDOM",)), "test", 12))]
    outputs = _outputs(tmp_path, ("i2t",), ("FREEDOM",))
    write_recbench(runs, outputs, 1.0, ["zeros"], {"zeros": "imputation"}, ["Cat_A"], ["FREEDOM"], 1, tasks=("i2t",))
    for table in ("table6_md", "tableA12_md"):
        caption = outputs[table].read_text()
        assert "Grid point kept on test, as MMRec and the authors report" in caption
        assert "image features are the encoder's raw vectors" in caption
        assert "MMRec's cosine is 0/0 = NaN" in caption and "i2t-zeros 12" in caption
