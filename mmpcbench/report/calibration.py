"""Calibration: does each benchmark see a known difference? The graded corruptions of the ground truth
(``degraded{P}``, :mod:`mmpcbench.completion.degraded`) give a curve per metric from p = 0 (the ground
truth) to the largest p configured; this module reads it off the results both benchmarks wrote.

Per *curve* — CQBench: task × metric; RecBench: task × recommender × missing rate × metric (R@20, N@20) —
it gives:

- the value at p = 0 and at every configured p, and at the ``shuffled`` and ``empty`` controls, each with
  its interval: CQBench the bootstrap interval of Tables 2/3 (items resampled per category, mean of the
  category means); RecBench the mean over categories of the seed mean ± the mean over categories of the
  seed std (the seed spread Table 6 uses);
- Spearman's ρ between p and the value over the curve's points (−1: falls strictly as p grows; a metric
  where lower is better, MSE, LPIPS, FID, should show +1);
- the **minimum detectable severity**: the smallest p whose interval does not overlap the ground truth's
  (none: no configured corruption is told apart from the truth);
- every other method (MLLMs, baselines, imputations, the popularity ranking) **placed on the scale**: the
  p at which the curve, linearly interpolated between its points, first reaches the method's value
  ("BM3 R@20 of qwen2.5-vl-7b ≈ a 30%-corrupted title"); a value better than the ground truth's is
  "above the truth", one worse than the largest p "beyond" it.

The caption says the verdict of each benchmark in one sentence, computed from the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from mmpcbench.completion.controls import TRUTH
from mmpcbench.completion.degraded import severity_of
from mmpcbench.families import METRICS, TASKS
from mmpcbench.io import atomic_path
from mmpcbench.report.figures import pyplot, save_png
from mmpcbench.report.tables import fmt, latex_escape, write_table

REFERENCES = ("shuffled", "empty")
REC_METRICS = {"recall@20": "R@20", "ndcg@20": "N@20"}
KEYS = ["benchmark", "task", "metric", "recommender", "rate"]


def severity(method: str) -> float | None:
    """p of a method on the corruption scale: 0 for the ground truth, P/100 for ``degraded{P}``."""
    return 0.0 if method == TRUTH else severity_of(method)


def cq_points(by_method: pl.DataFrame) -> pl.DataFrame:
    """CQBench's points: every method's by-method mean and bootstrap interval (Tables 2/3's CSV rows)."""
    return by_method.select(
        pl.lit("CQBench").alias("benchmark"), "task", "metric", pl.lit("").alias("recommender"),
        pl.lit(None, dtype=pl.Float64).alias("rate"), "method", "kind",
        pl.col("mean").alias("value"), pl.col("ci_low").alias("low"), pl.col("ci_high").alias("high"),
    )


def rec_points(summary: pl.DataFrame, kinds: dict[str, str]) -> pl.DataFrame:
    """RecBench's points from its summary (one row per category × variant × recommender × rate): per task,
    recommender, rate and method, the mean over categories of the seed mean, ± the mean seed std.
    ``original`` and ``popularity`` (rate 0) are repeated at every rate of the task."""
    rows = summary.filter(pl.col("task").is_not_null() & (pl.col("task") != ""))
    fixed = summary.filter(pl.col("method").is_in(["original", "popularity"]))
    rates = sorted(set(rows["rate"].to_list()))
    tasks = sorted(set(rows["task"].to_list()))
    expanded = pl.concat([fixed.with_columns(pl.lit(task).alias("task"), pl.lit(rate).alias("rate"))
                          for task in tasks for rate in rates]) if fixed.height else fixed
    frame = pl.concat([rows.select(fixed.columns), expanded]) if expanded.height else rows
    parts = []
    for metric in REC_METRICS:
        parts.append(frame.group_by(["task", "recommender", "rate", "method"], maintain_order=True).agg(
            pl.col(f"{metric}_mean").mean().alias("value"), pl.col(f"{metric}_std").mean().alias("spread"),
        ).with_columns(pl.lit(metric).alias("metric")))
    out = pl.concat(parts)
    return out.select(
        pl.lit("RecBench").alias("benchmark"), "task", "metric", "recommender", pl.col("rate").cast(pl.Float64),
        "method", pl.col("method").replace_strict(kinds, default="reference").alias("kind"),
        "value", (pl.col("value") - pl.col("spread")).alias("low"), (pl.col("value") + pl.col("spread")).alias("high"),
    )


def higher_is_better(benchmark: str, metric: str) -> bool:
    return True if benchmark == "RecBench" else METRICS[metric].higher_is_better


def place(value: float, curve: list[tuple[float, float]], higher: bool) -> tuple[float | None, str]:
    """Where ``value`` lies on ``curve`` (p, value) — the p at which the curve, linearly interpolated,
    first reaches it — and how: ``on`` the scale, ``above`` the truth, ``beyond`` the largest p, or
    ``none`` (no value)."""
    if value is None or math.isnan(value) or not curve:
        return None, "none"
    sign = 1.0 if higher else -1.0
    q = [(p, sign * v) for p, v in curve]  # oriented: larger is better
    target = sign * value
    if target > q[0][1]:
        return 0.0, "above"
    for (p0, v0), (p1, v1) in zip(q, q[1:]):
        if min(v0, v1) <= target <= max(v0, v1):
            return (p0 if v0 == v1 else p0 + (v0 - target) / (v0 - v1) * (p1 - p0)), "on"
    return q[-1][0], "beyond"  # worse than every point of the scale


def _placement_text(p: float | None, how: str) -> str:
    if how == "none":
        return "—"
    if how == "above":
        return "above the truth"
    if how == "beyond":
        return f"beyond {round(100 * p)}%"
    return f"≈ {round(100 * p)}%"


def calibrate(points: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The calibration of every curve in ``points`` (see the module docstring): one row per curve, and
    one per curve × placed method."""
    rows, placed = [], []
    for key, group in points.group_by(KEYS, maintain_order=True):
        keyed = dict(zip(KEYS, key))
        by_method = {row["method"]: row for row in group.iter_rows(named=True)}
        scale = sorted((severity(m), row) for m, row in by_method.items() if severity(m) is not None)
        if len(scale) < 2 or scale[0][0] != 0.0:
            continue  # no ground truth or no corruption: nothing to calibrate
        higher = higher_is_better(keyed["benchmark"], keyed["metric"])
        curve = [(p, row["value"]) for p, row in scale]
        truth = scale[0][1]
        detectable = None
        for p, row in scale[1:]:
            if not _finite(row["low"], row["high"], truth["low"], truth["high"]):
                break  # no interval (FID): nothing is detectable
            if row["high"] < truth["low"] or row["low"] > truth["high"]:
                detectable = p
                break
        values = [v for _, v in curve]
        rho = spearman([p for p, _ in curve], values)
        out = {**keyed, "higher_is_better": higher, "spearman_rho": rho, "min_detectable": detectable,
               "monotone": _monotone(values, higher)}
        for p, row in scale:
            out.update({f"p{round(100 * p)}": row["value"], f"p{round(100 * p)}_low": row["low"],
                        f"p{round(100 * p)}_high": row["high"]})
        for name in REFERENCES:
            row = by_method.get(name, {})
            out.update({name: row.get("value"), f"{name}_low": row.get("low"), f"{name}_high": row.get("high")})
        rows.append(out)
        for method, row in by_method.items():
            if severity(method) is not None or method in REFERENCES or method == "original":
                continue
            p, how = place(row["value"], curve, higher)
            placed.append({**keyed, "method": method, "kind": row["kind"], "value": row["value"], "severity": p,
                           "placement": how})
    return pl.DataFrame(rows, infer_schema_length=None), pl.DataFrame(placed, infer_schema_length=None)


def _finite(*values) -> bool:
    return all(v is not None and not math.isnan(v) for v in values)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's ρ: Pearson's correlation of the average ranks (ties share their mean rank); NaN when
    either side is constant."""
    rx = pl.Series(x, dtype=pl.Float64).rank("average").to_numpy()
    ry = pl.Series(y, dtype=pl.Float64).rank("average").to_numpy()
    if len(x) < 2 or rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _monotone(values: list[float], higher: bool) -> bool:
    """Does the curve get worse (or stay) at every step of p?"""
    sign = 1.0 if higher else -1.0
    return all(sign * b <= sign * a for a, b in zip(values, values[1:]))


def verdicts(curves: pl.DataFrame) -> dict[str, str]:
    """One sentence per benchmark: how many curves fall monotonically, and the corruption each detects."""
    out = {}
    for benchmark in ("CQBench", "RecBench"):
        rows = curves.filter(pl.col("benchmark") == benchmark)
        if not rows.height:
            continue
        n, monotone = rows.height, int(rows["monotone"].sum())
        found = [p for p in rows["min_detectable"].to_list() if p is not None and not math.isnan(p)]
        what = "metric" if benchmark == "CQBench" else "recommender × rate × metric curve"
        if found:
            detect = (f"{len(found)} of {n} tell a corruption from the truth beyond its interval, "
                      f"the smallest at {round(100 * min(found))}% (median {round(100 * float(np.median(found)))}%)")
        else:
            detect = f"none of the {n} tells any configured corruption from the truth beyond its interval"
        out[benchmark] = f"{benchmark}: {monotone} of {n} {what}s fall monotonically with the corruption; {detect}."
    return out


def write_calibration(cq_by_method: list, rec_summary, kinds: dict[str, str], outputs: dict) -> dict:
    """Read Tables 2/3's CSVs (``cq_by_method``) and RecBench's summary CSV, calibrate every curve, and
    write the table (``outputs["table"]``: csv/md/tex), the placements CSV (``outputs["placement"]``)
    and the figure (``outputs["figure"]``)."""
    parts = [cq_points(pl.read_csv(path)) for path in cq_by_method]
    if rec_summary:
        parts.append(rec_points(pl.read_csv(rec_summary), kinds))
    points = pl.concat([p.with_columns(pl.col("rate").cast(pl.Float64)) for p in parts], how="vertical_relaxed")
    curves, placed = calibrate(points)
    if not curves.height:
        raise ValueError("calibration needs ground_truth and at least one degraded{P} control in completion.controls")
    said = verdicts(curves)
    severities = sorted({int(c[1:]) for c in curves.columns if c.startswith("p") and c[1:].isdigit()})
    header = ["Benchmark", "Task", "Metric", "Recommender", "Rate",
              *[f"p = {p}%" for p in severities], "shuffled", "empty", "ρ", "min. detectable", "methods on the scale"]
    on_scale: dict[tuple, list[str]] = {}  # each curve's placed methods, in the order they were placed
    for m in placed.iter_rows(named=True):
        on_scale.setdefault(tuple(m[k] for k in KEYS), []).append(
            f"{m['method']} {_placement_text(m['severity'], m['placement'])}")
    md_rows, tex_rows = [], []
    for row in curves.iter_rows(named=True):
        label = _metric_label(row["benchmark"], row["metric"])
        scale_text = "; ".join(on_scale.get(tuple(row[k] for k in KEYS), []))
        cells = [_interval_cell(row.get(f"p{p}"), row.get(f"p{p}_low"), row.get(f"p{p}_high")) for p in severities]
        refs = [_interval_cell(row.get(name), row.get(f"{name}_low"), row.get(f"{name}_high")) for name in REFERENCES]
        detect = "none" if row["min_detectable"] is None else f"{round(100 * row['min_detectable'])}%"
        base = [row["benchmark"], TASKS[row["task"]].label, label, row["recommender"] or "—",
                "—" if row["rate"] is None else fmt(row["rate"], 1)]
        md_row = [*base, *cells, *refs, fmt(row["spearman_rho"], 2), detect, scale_text or "—"]
        md_rows.append(md_row)
        tex_rows.append([latex_escape(cell) for cell in md_row])  # "25%" would start a LaTeX comment
    caption = (" ".join(said.values()) + " Rows: each benchmark's metric against the share p of the ground truth "
               "corrupted (degraded{P}: I→T title tokens replaced by other items' tokens, T→I cover cells by another "
               "cover's); cells: value [interval] (CQBench: bootstrap CI over items; RecBench: ± the seed std, mean "
               "over categories). ρ: Spearman between p and the value. Min. detectable: the smallest p whose interval "
               "does not overlap the ground truth's. Methods on the scale: the p at which the interpolated curve "
               "reaches the method's value.")
    write_table(curves, outputs["table"], title="Calibration: each benchmark against graded corruption",
                label="tab:calibration", caption=caption, header=header, md_rows=md_rows, tex_rows=tex_rows)
    with atomic_path(outputs["placement"]) as tmp:
        placed.write_csv(tmp, float_precision=6)
    calibration_figure(curves, severities, outputs["figure"])
    return {"curves": curves, "placed": placed, "verdicts": said}


def _metric_label(benchmark: str, metric: str) -> str:
    return REC_METRICS[metric] if benchmark == "RecBench" else METRICS[metric].label


def _interval_cell(value, low, high) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return fmt(value)
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def calibration_figure(curves: pl.DataFrame, severities: list[int], out_png) -> None:
    """One panel per benchmark × task × metric (RecBench: its table rate's recommenders as lines): the
    value against p with its interval, and the shuffled / empty controls as dashed lines."""
    plt = pyplot()
    panels = curves.select("benchmark", "task", "metric").unique(maintain_order=True).rows()
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for ax, (benchmark, task, metric) in zip(axes.flat, panels):
        group = curves.filter((pl.col("benchmark") == benchmark) & (pl.col("task") == task) & (pl.col("metric") == metric))
        if benchmark == "RecBench":  # the largest rate: the tables' rate
            group = group.filter(pl.col("rate") == group["rate"].max())
        for row in group.iter_rows(named=True):
            xs = [p for p in severities if row.get(f"p{p}") is not None]
            ys = np.array([row[f"p{p}"] for p in xs], dtype=float)
            lows = np.array([row[f"p{p}_low"] for p in xs], dtype=float)
            highs = np.array([row[f"p{p}_high"] for p in xs], dtype=float)
            line = ax.plot(xs, ys, marker="o", label=row["recommender"] or None)[0]
            if np.isfinite(lows).all() and np.isfinite(highs).all():
                ax.fill_between(xs, lows, highs, alpha=0.2, color=line.get_color())
            for name, style in zip(REFERENCES, ("--", ":")):
                if row.get(name) is not None:
                    ax.axhline(row[name], linestyle=style, color=line.get_color(), linewidth=0.8)
        ax.set_title(f"{benchmark} {TASKS[task].label}: {_metric_label(benchmark, metric)}", fontsize=8)
        ax.set_xlabel("corrupted share p (%)", fontsize=7)
        ax.tick_params(labelsize=7)
        if benchmark == "RecBench":
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Calibration (dashed: shuffled, dotted: empty)", fontsize=9)
    fig.tight_layout()
    save_png(fig, out_png)
