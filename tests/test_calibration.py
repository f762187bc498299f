"""The calibration report: curves over the corrupted share p, the minimum detectable severity, and
methods placed on the scale — checked on hand-made points."""

import math

import polars as pl
import pytest

from mmpcbench.report.calibration import calibrate, place, rec_points, verdicts, write_calibration


def cq_frame(task, metric, values: dict[str, tuple[float, float, float]]) -> pl.DataFrame:
    """Tables 2/3's CSV rows for one task × metric: method -> (mean, ci_low, ci_high)."""
    kinds = {"ground_truth": "control", "shuffled": "control", "empty": "control", "retrieval": "baseline"}
    return pl.DataFrame([
        {"task": task, "method": m, "kind": kinds.get(m, "control" if m.startswith("degraded") else "model"),
         "metric": metric, "mean": v, "std_categories": 0.0, "std_items": 0.0, "ci_low": lo, "ci_high": hi,
         "n_categories": 2, "n_items": 200, "n_missing": 0, "n_nan": 0}
        for m, (v, lo, hi) in values.items()
    ])


def test_place_interpolates_on_the_scale_and_names_what_lies_off_it():
    curve = [(0.0, 1.0), (0.25, 0.8), (0.5, 0.6), (0.75, 0.4)]
    assert place(0.7, curve, higher=True) == (pytest.approx(0.375), "on")
    assert place(1.0, curve, higher=True) == (0.0, "on")
    assert place(1.2, curve, higher=True) == (0.0, "above")
    assert place(0.1, curve, higher=True) == (0.75, "beyond")
    # lower is better (MSE): the curve rises with p
    assert place(0.3, [(0.0, 0.0), (0.5, 0.2), (1.0, 0.4)], higher=False) == (pytest.approx(0.75), "on")
    # a curve that is not monotone: the first p that reaches the value
    assert place(0.5, [(0.0, 1.0), (0.25, 0.4), (0.5, 0.6), (0.75, 0.2)], higher=True)[0] == pytest.approx(0.25 * 5 / 6)
    assert place(math.nan, curve, higher=True) == (None, "none")


def test_cqbench_curve_rho_detectable_severity_and_placement():
    by_method = cq_frame("i2t", "cosine", {
        "ground_truth": (1.0, 0.98, 1.0), "degraded25": (0.97, 0.95, 0.99), "degraded50": (0.6, 0.55, 0.65),
        "degraded75": (0.3, 0.25, 0.35), "shuffled": (0.05, 0.04, 0.06), "empty": (0.0, 0.0, 0.0),
        "retrieval": (0.45, 0.4, 0.5), "tiny": (0.01, 0.0, 0.02),
    })
    from mmpcbench.report.calibration import cq_points

    curves, placed = calibrate(cq_points(by_method))
    row = curves.row(0, named=True)
    assert row["spearman_rho"] == pytest.approx(-1.0) and row["monotone"]
    assert row["min_detectable"] == 0.5  # 25% overlaps the truth's interval, 50% does not
    assert (row["p0"], row["p75"], row["shuffled"], row["empty_high"]) == (1.0, 0.3, 0.05, 0.0)
    where = {r["method"]: (r["severity"], r["placement"]) for r in placed.iter_rows(named=True)}
    assert where["retrieval"] == (pytest.approx(0.625), "on") and where["tiny"] == (0.75, "beyond")
    assert set(where) == {"retrieval", "tiny"}  # the scale and its ends are not placed on it


def test_a_benchmark_that_cannot_tell_says_so():
    by_method = cq_frame("i2t", "bertscore", {
        "ground_truth": (0.9, 0.8, 1.0), "degraded25": (0.92, 0.82, 1.0), "degraded50": (0.88, 0.78, 0.98),
    })
    from mmpcbench.report.calibration import cq_points

    curves, _ = calibrate(cq_points(by_method))
    row = curves.row(0, named=True)
    assert row["min_detectable"] is None and not row["monotone"]
    assert "none of the 1 tells any configured corruption" in verdicts(curves)["CQBench"]
    assert "0 of 1 metrics fall monotonically" in verdicts(curves)["CQBench"]


def rec_summary_rows():
    rows = []
    values = {"original": 0.30, "popularity": 0.20, "ground_truth": 0.30, "degraded25": 0.29, "degraded50": 0.25,
              "degraded75": 0.21, "shuffled": 0.18, "empty": 0.26, "zeros": 0.27, "tiny": 0.22}
    for category, shift in (("A", 0.01), ("B", -0.01)):
        for method, value in values.items():
            for task in ("i2t",):
                fixed = method in ("original", "popularity")
                rows.append({"category": category, "variant": method if fixed else f"{task}-{method}",
                             "task": None if fixed else task, "method": method, "recommender": "VBPR",
                             "rate": 0.0 if fixed else 1.0, "n_seeds": 2,
                             "recall@20_mean": value + shift, "recall@20_std": 0.01,
                             "ndcg@20_mean": value / 2, "ndcg@20_std": 0.005})
    return pl.DataFrame(rows)


def test_recbench_points_average_categories_and_carry_the_seed_spread():
    kinds = {"ground_truth": "control", "degraded25": "control", "degraded50": "control", "degraded75": "control",
             "shuffled": "control", "empty": "control", "zeros": "imputation", "tiny": "model"}
    points = rec_points(rec_summary_rows(), kinds)
    truth = points.filter((pl.col("method") == "ground_truth") & (pl.col("metric") == "recall@20")).row(0, named=True)
    assert truth["value"] == pytest.approx(0.30) and (truth["low"], truth["high"]) == (pytest.approx(0.29), pytest.approx(0.31))
    assert points.filter(pl.col("method") == "original")["rate"].to_list() == [1.0, 1.0]  # shown at the task's rate
    curves, placed = calibrate(points)
    recall = curves.filter(pl.col("metric") == "recall@20").row(0, named=True)
    assert recall["min_detectable"] == 0.5 and recall["spearman_rho"] == pytest.approx(-1.0)
    where = {(r["metric"], r["method"]): r["placement"] for r in placed.iter_rows(named=True)}
    assert where[("recall@20", "zeros")] == "on" and where[("recall@20", "popularity")] == "beyond"
    assert ("recall@20", "original") not in where


def test_written_table_placement_and_figure(tmp_path):
    cq = tmp_path / "table2.csv"
    cq_frame("i2t", "cosine", {"ground_truth": (1.0, 0.98, 1.0), "degraded50": (0.5, 0.45, 0.55),
                               "shuffled": (0.05, 0.04, 0.06), "empty": (0.0, 0.0, 0.0),
                               "retrieval": (0.75, 0.7, 0.8)}).write_csv(cq)
    rec = tmp_path / "rec.csv"
    rec_summary_rows().write_csv(rec)
    outputs = {"table": {form: tmp_path / f"c.{form}" for form in ("csv", "md", "tex")},
               "placement": tmp_path / "placement.csv", "figure": tmp_path / "c.png"}
    result = write_calibration([cq], rec, {"tiny": "model", "zeros": "imputation"}, outputs)
    md = (tmp_path / "c.md").read_text()
    assert "retrieval ≈ 25%" in md and "CQBench: 1 of 1 metrics fall monotonically" in md
    assert "RecBench: 2 of 2" in md
    assert (tmp_path / "c.png").stat().st_size > 0
    assert pl.read_csv(tmp_path / "placement.csv").height == result["placed"].height


def test_without_a_corruption_there_is_nothing_to_calibrate(tmp_path):
    cq = tmp_path / "t.csv"
    cq_frame("i2t", "cosine", {"ground_truth": (1.0, 1.0, 1.0), "shuffled": (0.1, 0.1, 0.1)}).write_csv(cq)
    outputs = {"table": {form: tmp_path / f"c.{form}" for form in ("csv", "md", "tex")},
               "placement": tmp_path / "p.csv", "figure": tmp_path / "c.png"}
    with pytest.raises(ValueError, match="degraded"):
        write_calibration([cq], None, {}, outputs)
