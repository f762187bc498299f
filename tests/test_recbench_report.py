"""RecBench tables: means over seeds, relative difference to ground truth, the seed-spread verdicts."""

import json

import polars as pl
import pytest

from mmpcbench.report.recbench import (cells, collect, indistinguishable, per_recommender_tables, relative_to_truth,
                                       write_recbench)

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
    assert "| Cat_B | model | **0.2000** ± 0.0000 ≈ ∅" in per_recommender
    assert "| Cat_A | model | **0.4100** ± 0.0000 ≈ |" in per_recommender and "| Cat_B | empty ‡ |" in per_recommender
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
    # a recommender's table says how an item's features reach its score (what its rows can show)
    assert "reads the features only through its frozen item kNN graph" in outputs["tableA12_md"].read_text()


PAPER_METRICS = [f"{name}@{k}" for name in ("recall", "ndcg") for k in (5, 10, 20, 50)]


def test_relative_difference_is_the_papers_best_model_against_ground_truth():
    # the paper's Table 6: the best MLLM's aggregate 0.0344 against ground truth's 0.0346 is −0.58%
    assert round(relative_to_truth(0.0344, 0.0346), 2) == -0.58


def test_table6_and_per_recommender_tables_have_the_papers_columns_rows_and_marks(tmp_path):
    def run(path, value, shift=0.0):
        record = {"popularity": {"test": {m: 0.01 for m in PAPER_METRICS}}, "recommenders": {"VBPR": {
            "1.0" if shift is not None else "0.0": {"runs": [{"seed": s, "best_epoch": 1, "test": {
                m: value + 0.001 * i for i, m in enumerate(PAPER_METRICS)}} for s in (0, 1)]}}}}
        path.write_text(json.dumps(record))
        return path

    runs = [("Cat_A", "original", run(tmp_path / "gt.json", 0.0346, None)),
            ("Cat_A", "i2t-big", run(tmp_path / "big.json", 0.0344)),
            ("Cat_A", "i2t-small", run(tmp_path / "small.json", 0.0300)),
            ("Cat_A", "i2t-tiny", run(tmp_path / "tiny.json", 0.0200)),
            ("Cat_A", "i2t-retrieval", run(tmp_path / "r.json", 0.0400))]
    outputs = _outputs(tmp_path, ("i2t",))
    kinds = {"big": "model", "small": "model", "tiny": "model", "retrieval": "baseline"}
    write_recbench(runs, outputs, 1.0, list(kinds), kinds, ["Cat_A"], ["VBPR"], 2, tasks=("i2t",))
    md = outputs["table6_md"].read_text()
    head = next(line for line in md.splitlines() if line.startswith("| Task"))
    assert head.startswith("| Task | Method | R@5 | R@10 | R@20 | R@50 | N@5 | N@10 | N@20 | N@50 | Δ R@20 ‡ |")
    lines = [line for line in md.splitlines() if line.startswith("| i2t")]
    # ground truth, the MLLMs, the paper's Rel. Diff. row, then what the paper does not have (‡)
    assert [line.split(" | ")[1] for line in lines] == ["original", "big", "small", "tiny", "Rel. Diff. (best MLLM)",
                                                        "popularity ‡", "retrieval ‡"]
    assert "| **0.0344** |" in lines[1] and "| _0.0300_ |" in lines[2] and "**" not in lines[6]
    assert "| -0.58% |" in lines[4]  # retrieval beats the MLLMs but is not the paper's best model
    tex = outputs["table6_tex"].read_text()
    assert r"\textbf{0.0344}" in tex and r"\underline{0.0300}" in tex and r"-0.58\%" in tex
    csv = pl.read_csv(outputs["table6_csv"])
    assert csv.filter(pl.col("method") == "rel_diff_best_model")["recall@5"][0] == pytest.approx(-0.578, abs=1e-3)
    per_recommender = outputs["tableA12_md"].read_text()
    head = next(line for line in per_recommender.splitlines() if line.startswith("| Category"))
    assert head == "| Category | Method | " + " | ".join(f"{n}@{k}" for n in "RN" for k in (5, 10, 20, 50)) + " |"
    rows = [line.split(" | ")[1] for line in per_recommender.splitlines() if line.startswith("| Cat_A")]
    assert rows == ["original", "big", "small", "tiny", "popularity ‡", "retrieval ‡"]
