"""CQBench tables (the paper's Tables 2–5, A.10, A.11) and radar charts (Figure 3), from the score files.

Aggregation, as the authors' released code: per method × category the mean and the population std
(ddof 0) over items; the by-method tables (2, 3) give the mean and population std **across the category
means** (why the paper's ± is small), the by-category tables (4, 5) the mean and the **sample** std
(ddof 1) **across the base MLLMs' means** of that category — the paper's Tables 4/5 ± reproduce with
ddof 1 only (Beauty cosine 0.018, Video Games cosine 0.042, Beauty PSNR 0.232; docs/report.md) — over
the MLLMs alone (kind ``model``): a GRPO adapter (kind
``adapter``), the baselines and the controls are not averaged in. Beyond the paper, every mean has a seeded 95% percentile bootstrap interval over items
(the same resampled items for every method of a task × category, so intervals are paired; across
categories, items are resampled within each category), the per-item std is written too, and the
missing completions are counted beside the means. FID (one value per method × category) has no
per-item std and no interval.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import polars as pl

from mmpcbench.families import METRICS, TASKS, Table
from mmpcbench.metrics.pipeline import read_summary
from mmpcbench.io import atomic_path
from mmpcbench.report.figures import radar_chart, save_data
from mmpcbench.report.tables import cell, latex_cell, latex_escape, write_table
from mmpcbench.seeds import derive_seed

log = logging.getLogger(__name__)



def summarise(runs: list[dict], resamples: int = 1000, level: float = 0.95, seed: int = 0):
    """Per (task, method, category, metric): counts, mean, per-item std, bootstrap interval.

    ``runs``: dicts with ``task, category, method, kind, scores, summary`` (paths). Returns the long
    frame and the bootstrap replicate means keyed by (task, method, category, metric)."""
    rows, replicates = [], {}
    alpha = (1 - level) / 2
    indices: dict[tuple, np.ndarray] = {}
    for run in runs:
        task, category, method = run["task"], run["category"], run["method"]
        scores = pl.read_parquet(run["scores"]).sort("parent_asin")
        summary = read_summary(run["summary"])
        n = scores.height
        for metric in TASKS[task].metrics():
            values = scores[metric].cast(pl.Float64).fill_null(np.nan).to_numpy()
            valid = ~np.isnan(values)
            key = (task, category, metric)
            if key not in indices:  # the same resampled items for every method: paired intervals
                rng = np.random.default_rng(derive_seed(seed, *key))
                indices[key] = rng.integers(0, n, size=(resamples, n)) if n else np.zeros((resamples, 0), int)
            index = indices[key]
            if index.shape[1] != n:
                raise ValueError(f"{run['scores']}: {n} items, but another method of {task}/{category} has "
                                 f"{index.shape[1]}: every method must be scored on the same CQ sample")
            reps = _nanmean_rows(values[index]) if n else np.full(resamples, np.nan)
            replicates[(task, run["method"], category, metric)] = reps
            mean = float(values[valid].mean()) if valid.any() else math.nan
            std = float(values[valid].std()) if valid.any() else math.nan
            low, high = _interval(reps, alpha)
            rows.append({
                "task": task, "method": method, "kind": run["kind"], "category": category, "metric": metric,
                "mean": mean, "std_items": std, "ci_low": low, "ci_high": high, "n_items": n,
                "n_scored_values": int(valid.sum()), "n_missing": summary["n_missing"],
                "n_reference_unreadable": summary.get("n_reference_unreadable", 0),
                "n_nan": int(np.isnan(values).sum() - (scores[metric].is_null().sum())),
                "missing_policy": summary["missing_policy"],
            })
        for metric in TASKS[task].metrics(per_item=False):  # one value per method × category (FID)
            rows.append({
                "task": task, "method": method, "kind": run["kind"], "category": category, "metric": metric,
                "mean": math.nan if summary.get(metric) is None else summary[metric], "std_items": math.nan,
                "ci_low": math.nan, "ci_high": math.nan, "n_items": n, "n_scored_values": summary.get(f"{metric}_pairs", 0),
                "n_missing": summary["n_missing"], "n_reference_unreadable": summary.get("n_reference_unreadable", 0),
                "n_nan": 0, "missing_policy": summary["missing_policy"],
            })
    return pl.DataFrame(rows, infer_schema_length=None), replicates


def _nanmean_rows(matrix: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(matrix)).sum(axis=1)
    sums = np.nansum(matrix, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _interval(replicates: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = replicates[~np.isnan(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    return float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha))


def by_method(long: pl.DataFrame, replicates: dict, level: float = 0.95) -> pl.DataFrame:
    """Tables 2/3: per task × method × metric, the mean and std across the category means, the per-item
    std over all items, and the interval of the mean of category means (items resampled per category)."""
    alpha = (1 - level) / 2
    rows = []
    for (task, method, kind, metric), group in long.group_by(["task", "method", "kind", "metric"], maintain_order=True):
        means = group["mean"].to_numpy()
        finite = means[~np.isnan(means)]
        low = high = math.nan
        if METRICS[metric].per_item:
            reps = [replicates[(task, method, c, metric)] for c in group["category"]]
            low, high = _interval(np.mean(np.stack(reps), axis=0), alpha) if reps else (math.nan, math.nan)
        rows.append({
            "task": task, "method": method, "kind": kind, "metric": metric,
            "mean": float(finite.mean()) if finite.size else math.nan,
            "std_categories": float(finite.std()) if finite.size else math.nan,
            "std_items": _pooled_std(group) if METRICS[metric].per_item else math.nan,
            "ci_low": low, "ci_high": high, "n_categories": int(finite.size),
            "n_items": int(group["n_items"].sum()), "n_missing": int(group["n_missing"].sum()),
            "n_nan": int(group["n_nan"].sum()),
        })
    return pl.DataFrame(rows, infer_schema_length=None)


def _pooled_std(group: pl.DataFrame) -> float:
    """Population std over every item of every category, from per-category mean, std and count."""
    n = group["n_scored_values"].to_numpy().astype(float)
    mean, std = group["mean"].to_numpy(), group["std_items"].to_numpy()
    ok = n > 0
    if not ok.any():
        return math.nan
    n, mean, std = n[ok], mean[ok], std[ok]
    grand = (n * mean).sum() / n.sum()
    return float(math.sqrt(max(0.0, ((n * (std**2 + (mean - grand) ** 2)).sum()) / n.sum())))


def by_category(long: pl.DataFrame, replicates: dict, level: float = 0.95) -> pl.DataFrame:
    """Tables 4/5: per task × category × metric, the mean and the sample std (ddof 1, as the paper) across
    the base MLLMs' means (kind ``model``; adapters, baselines and controls left out), and the interval
    of the mean over models (paired items). One model: std NaN."""
    alpha = (1 - level) / 2
    rows = []
    models = long.filter(pl.col("kind") == "model")
    for (task, category, metric), group in models.group_by(["task", "category", "metric"], maintain_order=True):
        means = group["mean"].to_numpy()
        finite = means[~np.isnan(means)]
        low = high = math.nan
        if METRICS[metric].per_item:
            reps = [replicates[(task, m, category, metric)] for m in group["method"]]
            low, high = _interval(np.mean(np.stack(reps), axis=0), alpha)
        rows.append({
            "task": task, "category": category, "metric": metric,
            "mean": float(finite.mean()) if finite.size else math.nan,
            "std_models": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
            "ci_low": low, "ci_high": high, "n_models": int(finite.size),
            "n_missing": int(group["n_missing"].sum()),
        })
    return pl.DataFrame(rows, schema={
        "task": pl.String, "category": pl.String, "metric": pl.String, "mean": pl.Float64, "std_models": pl.Float64,
        "ci_low": pl.Float64, "ci_high": pl.Float64, "n_models": pl.Int64, "n_missing": pl.Int64,
    })


def metric_headers(task: str, encoders: dict) -> dict:
    """Column names that say which encoder produced a model-based metric (a stand-in is never "CLIP")."""
    return {metric: METRICS[metric].header(encoders) for metric in TASKS[task].metrics(per_item=None)}


NORMALISER_NOTES = {
    "ascii": "ascii (the authors': lowercase, every character outside [a-zA-Z0-9 whitespace] to a space)",
    "unicode": "unicode (ours, not the authors': letters and digits of every script kept; the authors "
               "drop non-ASCII letters)",
}


def definitions_note(task: str, definitions: dict) -> str:
    """The caption sentence that names the rules a task's scores were computed under, and how many
    pairs each rule touched (summed over the score summaries)."""
    if TASKS[task].completes == "text":
        rule = definitions.get("degenerate", "zero")
        counts = definitions.get("counts", {})
        empty, no_term = counts.get("empty_reference", 0), counts.get("no_tfidf_term", 0)
        scored = ("scored 0 on every metric and kept in the means (the authors)" if rule == "zero"
                  else "excluded from the means (NaN; ours, not the authors')")
        scored_tfidf = ("cosine and Euclidean 0, kept (the authors)" if rule == "zero"
                        else "cosine and Euclidean excluded (NaN; ours)")
        return (f" Text normaliser: {NORMALISER_NOTES.get(definitions.get('normaliser'), definitions.get('normaliser'))}."
                f" Degenerate pairs ({rule}): {empty} with an empty reference after normalisation, {scored};"
                f" {no_term} with no TF-IDF term in either text, {scored_tfidf}.")
    architecture = definitions.get("clip_architecture") or {}
    if architecture.get("family") == "open_clip":
        return (f" CLIP network: {architecture.get('model')} with {architecture.get('pretrained')} weights, "
                f"{architecture.get('activation')} activations, {architecture.get('dtype')}; the generated image is "
                "resized (OpenCV, bilinear, uint8) to the real cover's size before every metric, CLIP included.")
    return " The generated image is resized (OpenCV, bilinear, uint8) to the real cover's size before every metric."


def _caption(task: str, encoders: dict, policy: str, what: str, level: float, definitions: dict | None = None) -> str:
    missing = ("a missing completion is scored as an empty output (text: 0 on every metric; image: a uniform "
               "grey image)" if policy == "zero" else "a missing completion is excluded from the means")
    return (f"CQBench {TASKS[task].label}, {what}. Cells: {'mean ± std'} [{int(level * 100)}% bootstrap CI]. "
            f"Missing: {missing}; the 'missing' column counts them. Encoders: "
            + "; ".join(f"{k}: {v}" for k, v in encoders.items()) + "."
            + definitions_note(task, definitions or {}))


def _order(frame: pl.DataFrame, methods: list[str]) -> pl.DataFrame:
    rank = {m: i for i, m in enumerate(methods)}
    return frame.with_columns(pl.col("method").replace_strict(rank, default=len(rank)).alias("_rank")).sort(
        "_rank", maintain_order=True).drop("_rank")


def write_cq_tables(runs: list[dict], outputs: dict, bootstrap: dict, methods: list[str]) -> dict:
    """Write every CQBench table: ``outputs`` maps ``table2``, ``table3``, ``table4``, ``table5``,
    ``tableA10``, ``tableA11`` to ``{csv, md, tex}`` paths and ``summary`` to the long CSV; ``methods``
    gives the row order (MLLMs, baselines, controls)."""
    level = bootstrap.get("level", 0.95)
    long, replicates = summarise(runs, bootstrap.get("resamples", 1000), level, bootstrap.get("seed", 0))
    with atomic_path(outputs["summary"]) as tmp:
        long.write_csv(tmp, float_precision=6)
    encoders = {task: {} for task in TASKS}
    definitions: dict[str, dict] = {task: {"counts": {}} for task in TASKS}
    policy = {}
    for run in runs:
        summary = read_summary(run["summary"])
        encoders[run["task"]].update(summary["encoders"])
        policy[run["task"]] = summary["missing_policy"]
        task_definitions = definitions[run["task"]]
        task_definitions.update(summary.get("definitions", {}))
        if "clip_architecture" in summary:
            task_definitions["clip_architecture"] = summary["clip_architecture"]
        for rule, count in summary.get("n_degenerate", {}).items():
            task_definitions["counts"][rule] = task_definitions["counts"].get(rule, 0) + count
    methods_frame = _order(by_method(long, replicates, level), methods) if long.height else long
    categories_frame = by_category(long, replicates, level) if long.height else long
    for task in TASKS:
        by_model_key, by_cat_key, full_key = (Table.of("cqbench", task, view).name
                                              for view in ("by_method", "by_category", "full"))
        metrics = TASKS[task].metrics(per_item=None)
        headers = metric_headers(task, encoders[task])
        pol, rules = policy.get(task, "zero"), definitions[task]
        _write_by_method(methods_frame.filter(pl.col("task") == task), metrics, headers, outputs[by_model_key],
                         _caption(task, encoders[task], pol, "by method: mean and std across categories", level, rules),
                         task)
        _write_by_category(categories_frame.filter(pl.col("task") == task), metrics, headers, outputs[by_cat_key],
                           _caption(task, encoders[task], pol, "by category: mean and sample std (ddof 1, as the "
                                    "paper) across the base MLLMs (GRPO adapters, baselines and controls not averaged in)", level,
                                    rules), task)
        _write_full(_order(long.filter(pl.col("task") == task), methods), metrics, headers, outputs[full_key],
                    _caption(task, encoders[task], pol, "per method and category: mean and per-item std", level,
                             rules), task)
    return {"long": long, "by_method": methods_frame, "by_category": categories_frame}


def _wide_rows(frame: pl.DataFrame, keys: list[str], metrics: list[str], std_col: str):
    """Markdown and LaTeX rows of a long frame, one row per ``keys`` value, one column per metric."""
    md_rows, tex_rows = [], []
    for key_values, group in frame.group_by(keys, maintain_order=True):
        by_metric = {row["metric"]: row for row in group.iter_rows(named=True)}
        md, tex = [" / ".join(str(k) for k in key_values)], [" / ".join(str(k) for k in key_values)]
        for metric in metrics:
            row = by_metric.get(metric)
            digits = METRICS[metric].digits
            if row is None:
                md.append("—")
                tex.append("--")
                continue
            std = row.get(std_col)
            md.append(cell(row["mean"], std, row.get("ci_low"), row.get("ci_high"), digits))
            tex.append(latex_cell(row["mean"], std, digits))
        missing = int(group["n_missing"][0]) if "n_missing" in group.columns else 0
        md.append(str(missing))
        tex.append(str(missing))
        md_rows.append(md)
        tex_rows.append([latex_escape(tex[0]), *tex[1:]])
    return md_rows, tex_rows


def _write_by_method(frame, metrics, headers, paths, caption, task):
    md_rows, tex_rows = _wide_rows(frame, ["method"], metrics, "std_categories")
    header = ["method", *[headers[m] for m in metrics], "missing"]
    title = f"Table {Table.of('cqbench', task, 'by_method').number}: CQBench {TASKS[task].label} by method"
    write_table(frame, paths, title=title, caption=caption, label=f"tab:cq-{task}-method", header=header,
                md_rows=md_rows, tex_rows=tex_rows, md_note="Per-item std: see the CSV (std_items).")


def _write_by_category(frame, metrics, headers, paths, caption, task):
    md_rows, tex_rows = _wide_rows(frame, ["category"], metrics, "std_models")
    header = ["category", *[headers[m] for m in metrics], "missing"]
    title = f"Table {Table.of('cqbench', task, 'by_category').number}: CQBench {TASKS[task].label} by category"
    if not md_rows:
        caption += " No MLLM is configured: this table is empty (the baselines and controls are in Tables 2/3)."
    write_table(frame, paths, title=title, caption=caption, label=f"tab:cq-{task}-cat", header=header,
                md_rows=md_rows, tex_rows=tex_rows)


def _write_full(frame, metrics, headers, paths, caption, task):
    md_rows, tex_rows = _wide_rows(frame, ["method", "category"], metrics, "std_items")
    header = ["method / category", *[headers[m] for m in metrics], "missing"]
    title = f"Table {Table.of('cqbench', task, 'full').number}: CQBench {TASKS[task].label} per method and category"
    write_table(frame, paths, title=title, caption=caption, label=f"tab:cq-{task}-full", header=header,
                md_rows=md_rows, tex_rows=tex_rows)


def radar_scores(full_frame: pl.DataFrame, task: str, models: list[str],
                 others: list[str] = ()) -> dict[str, dict[str, float]]:
    """Figure 3 as the paper reads it: per method and category, the sum of its metrics each min-max
    normalised to [0, 1] (1 = best; lower-is-better metrics turned around; all equal → 1), at most 4
    (I→T) or 5 (T→I). The range of a metric is that of the base MLLMs' (``models``) method × category
    means, so the paper's polygons do not move with what is added; ``others`` (GRPO adapters,
    baselines: not in the paper) are placed on the same scale and may leave [0, 1] per metric.
    ``full_frame``: the long per method × category table (A.10/A.11 CSV). Returns method → category →
    summed score."""
    metrics = TASKS[task].metrics()
    frame = full_frame.filter(pl.col("task") == task)
    table = {(r["method"], r["category"], r["metric"]): r["mean"] for r in frame.iter_rows(named=True)}
    categories = list(dict.fromkeys(frame["category"].to_list()))
    ranges = {}
    for metric in metrics:
        values = np.array([table.get((m, c, metric), math.nan) for m in models for c in categories], dtype=float)
        finite = values[~np.isnan(values)]
        ranges[metric] = (finite.min(), finite.max()) if finite.size else (math.nan, math.nan)
    out = {}
    for method in [*models, *others]:
        if not any((method, c, k) in table for c in categories for k in metrics):
            continue
        out[method] = {}
        for category in categories:
            total = 0.0
            for metric in metrics:
                value, (low, high) = table.get((method, category, metric), math.nan), ranges[metric]
                if value is None or math.isnan(value) or math.isnan(low):
                    continue  # a missing value adds nothing
                score = 1.0 if high == low else (value - low) / (high - low)
                total += score if METRICS[metric].higher_is_better or high == low else 1.0 - score
            out[method][category] = float(total)
    return out


def write_radar(full_csv, task: str, models: list[str], out_png, others: list[str] = (), out_csv=None) -> dict:
    """Figure 3: one radar chart per task, a spoke per category, a polygon per MLLM (dashed: the methods
    the paper does not have), the value its summed normalised score (:func:`radar_scores`) on the
    paper's scale [0, number of metrics] (a dashed method past it is drawn on the rim, its legend says
    how far); ``out_csv``: its source data, a row per polygon × spoke (method, line, category, score,
    maximum)."""
    scores = radar_scores(pl.read_csv(full_csv), task, models, others)
    categories = list(dict.fromkeys(c for by_category in scores.values() for c in by_category))
    maximum = len(TASKS[task].metrics())
    dashed = [m for m in scores if m in set(others)]
    radar_chart(scores, categories, [c.replace("_", " ") for c in categories],
                f"CQBench {TASKS[task].label}: summed min-max normalised metrics per category\n"
                f"(max {maximum}; on the MLLMs' scale)", out_png, limit=float(maximum), dashed=dashed)
    if out_csv is not None:
        rows = [{"method": method, "line": "dashed" if method in dashed else "solid", "category": category,
                 "score": score, "maximum": maximum}
                for method, by_category in scores.items() for category, score in by_category.items()]
        save_data(pl.DataFrame(rows, schema={"method": pl.Utf8, "line": pl.Utf8, "category": pl.Utf8,
                                             "score": pl.Float64, "maximum": pl.Int64}), out_csv)
    return scores
