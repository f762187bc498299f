"""RecBench tables and figures from the result JSONs of ``train_recommender``.

Every number is the test metric at the best-validation epoch of one (category, variant, recommender,
rate, seed) run, as the training stage wrote it. Definitions:

- cell value = mean over seeds (± std over seeds, ddof 0);
- relative difference Δ% = (mean − ground-truth mean) / ground-truth mean × 100, per category and
  recommender, then averaged (Table 6 averages Δ% over categories and recommenders, as the means);
- **within the seed spread** (marked ``≈``): |mean − ground-truth mean| ≤ √(std² + std_gt²), i.e. the
  difference is no larger than the two runs' seed-to-seed variation;
- **can the benchmark tell?** a category × recommender where the ``shuffled`` control (another item's
  modality) is within the seed spread of ground truth cannot distinguish completions at all; the
  tables say so;
- **the no-information floor**: the ``empty`` control (an empty text, a grey image: features that carry
  nothing of the item) lands close to the real features on small data. A cell within the seed spread
  of ``empty`` (same rule as above, against the ``empty`` row of its task, category, recommender and
  rate) has shown nothing: the per-recommender tables mark it ``∅``, Figure 4 too, and Table 6 counts
  per method the category × recommender cells where it **beats** ``empty`` (Recall@20 above it by more
  than the seed spread).

Every caption also says how the runs were made, read from the result files: the grid point kept on
validation (ours) or on test (MMRec's and the authors' reporting, metrics rounded to 4 decimals), the
feature modalities and whether image features were L2-normalised; and, in every table with a ``zeros``
or ``empty`` row, how the item graph of each recommender that has one (FREEDOM) treats all-zero feature rows
here and in MMRec.

The paper's tables are at the table rate (1.0: every item's modality replaced, as the authors ran).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.features.build import ORIGINAL
from mmpcbench.io import atomic_path
from mmpcbench.families import RECOMMENDERS, TASKS
from mmpcbench.report.figures import pyplot, save_data, save_png
from mmpcbench.report.tables import fmt, latex_escape, write_table

BEYOND = " ‡"  # marks a row or column the paper does not have


def metric_names(frame: pl.DataFrame) -> list[str]:
    """The top-k metrics of the result files as the paper orders them: Recall@k by k, then NDCG@k
    (the runs' ``recbench.train.topk``, the paper's 5, 10, 20, 50)."""
    names = {c.removesuffix("_mean") for c in frame.columns if "@" in c and c.endswith("_mean")
             and not c.endswith("_gt_mean") and not c.endswith("_empty_mean")}
    by_k = lambda name: (name.split("@")[0] != "recall", name.split("@")[0], int(name.split("@")[1]))
    return sorted(names, key=by_k)


def header_of(metric: str) -> str:
    """R@k / N@k, as the paper heads its columns."""
    name, k = metric.split("@")
    return f"{'R' if name == 'recall' else 'N' if name == 'ndcg' else name}@{k}"


def best_two(values: dict) -> dict:
    """The paper's marks: ``{key: "best" | "second"}`` for the highest and second-highest finite value."""
    ranked = sorted(((v, k) for k, v in values.items() if v is not None and not math.isnan(v)), reverse=True)
    return {key: mark for (_, key), mark in zip(ranked, ("best", "second"))}


def marked(text: str, mark: str | None, latex: bool = False) -> str:
    """Bold for the best, underlined (LaTeX) or italic (Markdown, which has no underline) for the second."""
    if mark == "best":
        return rf"\textbf{{{text}}}" if latex else f"**{text}**"
    if mark == "second":
        return rf"\underline{{{text}}}" if latex else f"_{text}_"
    return text


def relative_to_truth(best: float, truth: float) -> float:
    """The paper's Rel. Diff.: the best MLLM's aggregate against ground truth's, in % (its Table 6:
    0.0344 / 0.0346 − 1 = −0.58%)."""
    return (best / truth - 1) * 100 if truth else math.nan


def task_name(task: str) -> str:
    return f"{TASKS[task].label} ({TASKS[task].completes} completed)"


NO_INFORMATION = "empty"  # the control whose features carry nothing of the item
ZERO_ROW_METHODS = ("zeros", "empty")


def collect(results: list[tuple[str, str, str]], context: dict | None = None) -> pl.DataFrame:
    """One row per (category, variant, recommender, rate, seed) with every test metric;
    ``results``: (category, variant, path). Ground truth has task and method null and rate 0.
    ``context``, a dict, receives how the runs were made (``select_on``, ``image_normalise``,
    ``modalities``: the set of values seen) and the all-zero feature rows per (task, method)."""
    rows = []
    context = context if context is not None else {}
    for key in ("select_on", "image_normalise", "modalities"):
        context.setdefault(key, set())
    context.setdefault("zero_rows", {})
    context.setdefault("graph_recommenders", set())
    for category, variant, path in results:
        record = json.loads(Path(path).read_text())
        task, method = (None, ORIGINAL) if variant == ORIGINAL else variant.split("-", 1)
        context["select_on"].add(record.get("select_on", "valid"))
        features = record.get("features", {})
        if "image_normalise" in features:
            context["image_normalise"].add(bool(features["image_normalise"]))
        if "modalities" in features:
            context["modalities"].add(tuple(features["modalities"]))
        for recommender, by_rate in record["recommenders"].items():
            has_graph = bool(RECOMMENDERS[recommender].all_zero_rows)
            if has_graph:
                context["graph_recommenders"].add(recommender)
            for rate, entry in by_rate.items():
                zero = sum(entry.get("zero_feature_rows", {}).values())
                if zero and has_graph:
                    key = (task, method)
                    context["zero_rows"][key] = max(context["zero_rows"].get(key, 0), zero)
                for run in entry["runs"]:
                    rows.append({"category": category, "variant": variant, "task": task, "method": method,
                                 "recommender": recommender, "rate": float(rate), "seed": run["seed"],
                                 "best_epoch": run["best_epoch"], **run["test"]})
        if variant == ORIGINAL:
            for name, metrics in (("popularity", record["popularity"]["test"]),):
                for recommender in record["recommenders"]:
                    rows.append({"category": category, "variant": name, "task": None, "method": name,
                                 "recommender": recommender, "rate": 0.0, "seed": None, "best_epoch": None,
                                 **metrics})
    return pl.DataFrame(rows, infer_schema_length=None)


def cells(long: pl.DataFrame) -> pl.DataFrame:
    """Mean and std over seeds per (category, recommender, task, method, rate), with the ground-truth
    mean/std, Δ%, and whether the difference is within the seed spread, for every metric."""
    metrics = [c for c in long.columns if "@" in c]
    grouped = long.group_by(["category", "variant", "task", "method", "recommender", "rate"], maintain_order=True).agg(
        pl.len().alias("n_seeds"),
        *[pl.col(m).mean().alias(f"{m}_mean") for m in metrics],
        *[pl.col(m).std(ddof=0).alias(f"{m}_std") for m in metrics],
    )
    truth = grouped.filter(pl.col("variant") == ORIGINAL).select(
        "category", "recommender",
        *[pl.col(f"{m}_mean").alias(f"{m}_gt_mean") for m in metrics],
        *[pl.col(f"{m}_std").alias(f"{m}_gt_std") for m in metrics],
    )
    empty = grouped.filter(pl.col("method") == NO_INFORMATION).select(
        "category", "recommender", "task", "rate",
        *[pl.col(f"{m}_mean").alias(f"{m}_empty_mean") for m in metrics],
        *[pl.col(f"{m}_std").alias(f"{m}_empty_std") for m in metrics],
    )
    out = grouped.join(truth, on=["category", "recommender"], how="left").join(
        empty, on=["category", "recommender", "task", "rate"], how="left")
    for m in metrics:
        diff = pl.col(f"{m}_mean") - pl.col(f"{m}_gt_mean")
        spread = seed_spread(f"{m}_std", f"{m}_gt_std")
        over_empty = pl.col(f"{m}_mean") - pl.col(f"{m}_empty_mean")
        empty_spread = seed_spread(f"{m}_std", f"{m}_empty_std")
        out = out.with_columns(
            (diff / pl.col(f"{m}_gt_mean") * 100).alias(f"{m}_rel_diff"),
            (diff.abs() <= spread).alias(f"{m}_within_spread"),
            # null where the task has no empty row (no empty control configured, or the original features)
            (over_empty.abs() <= empty_spread).alias(f"{m}_within_empty_spread"),
            (over_empty > empty_spread).alias(f"{m}_beats_empty"),
        )
    return out


def seed_spread(std: str, other_std: str) -> pl.Expr:
    """√(std² + other_std²) of two std columns (a missing std counts as 0): the seed spread of a difference."""
    return (pl.col(std).fill_null(0) ** 2 + pl.col(other_std).fill_null(0) ** 2).sqrt()


def runs_note(context: dict) -> str:
    """The caption sentence that says how the runs were made (from the result files)."""
    select = context.get("select_on") or {"valid"}
    if select == {"valid"}:
        chosen = "Grid point kept on validation (ours)"
    elif select == {"test"}:
        chosen = ("Grid point kept on test, as MMRec and the authors report (every metric rounded to 4 decimals "
                  "before early stopping, as MMRec's evaluator)")
    else:
        chosen = f"Grid point kept on {' and '.join(sorted(select))} (mixed runs)"
    parts = [chosen]
    modalities = context.get("modalities") or set()
    if modalities:
        parts.append("features: " + " / ".join("+".join(m) for m in sorted(modalities)))
    normalise = context.get("image_normalise") or set()
    if normalise == {False}:
        parts.append("image features are the encoder's raw vectors (the authors)")
    elif normalise == {True}:
        parts.append("image features L2-normalised (ours, not the authors')")
    return "; ".join(parts) + "."


def zero_rows_note(context: dict, methods) -> str:
    """For a table with a ``zeros`` or ``empty`` row: how the item graphs of the recommenders that ran
    (``families.Recommender.all_zero_rows``) treat all-zero rows."""
    shown = [m for m in ZERO_ROW_METHODS if m in set(methods)]
    graphs = [RECOMMENDERS[name].all_zero_rows for name in RECOMMENDERS if name in context.get("graph_recommenders", ())]
    if not shown or not graphs:
        return ""
    counts = {f"{task}-{method}": n for (task, method), n in sorted(context.get("zero_rows", {}).items(),
                                                                     key=lambda kv: (str(kv[0][0]), kv[0][1]))}
    seen = ("; all-zero rows in these runs (most per rate): " + ", ".join(f"{k} {v}" for k, v in counts.items())
            if counts else "; no run here had an all-zero feature row")
    return f" Rows {', '.join(shown)}: {'; '.join(graphs)}{seen}."


def indistinguishable(frame: pl.DataFrame, rate: float, metric: str = "recall@20") -> pl.DataFrame:
    """(task, category, recommender) where the shuffled control lies within the seed spread of ground truth."""
    return frame.filter((pl.col("method") == "shuffled") & (pl.col("rate") == rate)
                        & pl.col(f"{metric}_within_spread")).select("task", "category", "recommender")


def _method_order(methods: list[str], kinds: dict[str, str] | None = None) -> dict[str, int]:
    """Row order: ground truth, the MLLMs (the paper's rows), then what the paper does not have."""
    kinds = kinds or {}
    models = [m for m in methods if kinds.get(m) == "model"]
    rest = [m for m in methods if m not in models]
    return {m: i for i, m in enumerate([ORIGINAL, *models, "popularity", *rest])}


def _kind(method: str, kinds: dict[str, str]) -> str:
    return "reference" if method in (ORIGINAL, "popularity") else kinds.get(method, "imputation")


def table6(frame: pl.DataFrame, rate: float, methods: list[str], kinds: dict[str, str]) -> pl.DataFrame:
    """Mean over categories and recommenders per task × method, with the mean Δ% to ground truth."""
    at_rate = frame.filter(((pl.col("rate") == rate) & pl.col("task").is_not_null()))
    reference = frame.filter(pl.col("variant").is_in([ORIGINAL, "popularity"]))
    rows = []
    order = _method_order(methods, kinds)
    metrics = metric_names(frame)
    for task in sorted(set(at_rate["task"]), key=["i2t", "t2i"].index):
        parts = [_versus_empty(reference, at_rate, task), at_rate.filter(pl.col("task") == task)]
        block = pl.concat(parts, how="diagonal_relaxed").group_by(["task", "method"], maintain_order=True).agg(
            pl.len().alias("n_cells"),
            pl.col("category").n_unique().alias("n_categories"),
            *[pl.col(f"{m}_mean").mean().alias(m) for m in metrics],
            *[pl.col(f"{m}_rel_diff").mean().alias(f"{m}_rel_diff") for m in metrics],
            *[pl.col(f"{m}_within_spread").mean().alias(f"{m}_share_within_spread") for m in metrics],
            pl.col("recall@20_beats_empty").sum().alias("n_beats_empty"),
            pl.col("recall@20_beats_empty").is_not_null().sum().alias("n_versus_empty"),
        )
        rows.append(block)
    out = pl.concat(rows)
    return out.with_columns(
        pl.col("method").map_elements(lambda m: _kind(m, kinds), return_dtype=pl.String).alias("kind"),
        pl.col("method").replace_strict(order, default=len(order)).alias("_order"),
    ).with_columns(
        ((pl.col("kind") == "model") | (pl.col("method") == ORIGINAL)).alias("in_paper"),
    ).sort(["task", "_order"]).drop("_order")


def _versus_empty(reference: pl.DataFrame, at_rate: pl.DataFrame, task: str) -> pl.DataFrame:
    """The reference rows (original features, popularity) under ``task``, with whether their Recall@20
    beats that task's ``empty`` row by more than the seed spread (null without an empty row)."""
    empty = at_rate.filter((pl.col("task") == task) & (pl.col("method") == NO_INFORMATION)).select(
        "category", "recommender", pl.col("recall@20_mean").alias("_empty_mean"),
        pl.col("recall@20_std").alias("_empty_std"))
    spread = seed_spread("recall@20_std", "_empty_std")
    return reference.drop("recall@20_beats_empty", strict=False).join(
        empty, on=["category", "recommender"], how="left").with_columns(
        pl.lit(task).alias("task"),
        (pl.col("recall@20_mean") - pl.col("_empty_mean") > spread).alias("recall@20_beats_empty"),
    ).drop("_empty_mean", "_empty_std")


def _beats(row: dict) -> str:
    return f"{row['n_beats_empty']}/{row['n_versus_empty']}" if row["n_versus_empty"] else "—"


def _rel(value, digits: int = 1) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.{digits}f}%"


def write_table6(frame: pl.DataFrame, rate: float, methods: list[str], kinds: dict[str, str], paths: dict,
                 n_seeds: int, context: dict | None = None) -> pl.DataFrame:
    """Table 6 as the paper has it — per task, ground truth and the MLLMs, every Recall@k and NDCG@k
    averaged over categories and recommenders, the best MLLM bold and the second underlined per column,
    and the Rel. Diff. row (:func:`relative_to_truth`) — then, marked ‡, what the paper does not have:
    the other methods' rows, the mean of per-cell Δ% to ground truth and the *beats ∅* count."""
    table = table6(frame, rate, methods, kinds)
    metrics = metric_names(frame)
    header = ["Task", "Method", *[header_of(m) for m in metrics], f"Δ R@20{BEYOND}", f"beats ∅ (R@20){BEYOND}"]
    rows_md, rows_tex, extra = [], [], []
    for task in dict.fromkeys(table["task"].to_list()):
        block = table.filter(pl.col("task") == task)
        models = block.filter(pl.col("kind") == "model")
        marks = {m: best_two(dict(zip(models["method"], models[m]))) for m in metrics}
        truth = block.filter(pl.col("method") == ORIGINAL)
        rel = {m: relative_to_truth(max(models[m]), truth[m][0]) if models.height and truth.height else math.nan
               for m in metrics}
        def add(r: dict) -> None:
            values = [fmt(r[m]) for m in metrics]
            md = [marked(v, marks[m].get(r["method"])) for v, m in zip(values, metrics)]
            tex = [marked(v, marks[m].get(r["method"]), latex=True) for v, m in zip(values, metrics)]
            delta = _rel(r["recall@20_rel_diff"]) if r["method"] != ORIGINAL and "recall@20_rel_diff" in r else "—"
            beats = _beats(r) if r["method"] != NO_INFORMATION else "—"
            name = r["method"] + ("" if r["in_paper"] else BEYOND)
            rows_md.append([task, name, *md, delta, beats])
            rows_tex.append([task, latex_escape(name), *tex, delta.replace("%", r"\%"), beats])

        for r in block.filter(pl.col("in_paper")).iter_rows(named=True):
            add(r)
        if models.height:  # the paper's Rel. Diff. row closes its rows
            cells = [_rel(rel[m], 2) for m in metrics]
            rows_md.append([task, "Rel. Diff. (best MLLM)", *cells, "", ""])
            rows_tex.append([task, "Rel. Diff. (best MLLM)", *[c.replace("%", r"\%") for c in cells], "", ""])
            extra.append({"task": task, "method": "rel_diff_best_model", "kind": "rel_diff", "in_paper": True,
                          **{m: rel[m] for m in metrics}})
        for r in block.filter(~pl.col("in_paper")).iter_rows(named=True):
            add(r)
    floor = ("beats ∅ = in how many category × recommender cells the method's Recall@20 is above the empty "
             "control's by more than the seed spread (a method that does not beat empty has shown nothing). "
             if NO_INFORMATION in set(methods) else "No empty control is configured: beats ∅ is not computed. ")
    caption = (f"RecBench at missing rate {rate}: test metrics at the best-validation epoch, mean over categories, "
               f"recommenders and {n_seeds} seed(s). As the paper: ground truth (original = the items' own "
               "features) and the MLLMs, the best MLLM in bold and the second underlined (Markdown: italic) per "
               "column, and Rel. Diff. = the best MLLM's value against ground truth's (best / truth − 1). "
               f"‡ = not in the paper: the other methods (popularity = items ranked by train interactions, no "
               "features), Δ R@20 = the mean over category × recommender cells of the relative difference to "
               f"ground truth, and {floor}" + runs_note(context or {})
               + zero_rows_note(context or {}, table["method"].to_list()))
    out = pl.concat([table, pl.DataFrame(extra, schema_overrides={m: pl.Float64 for m in metrics})],
                    how="diagonal_relaxed") if extra else table
    write_table(out, paths, title="Table 6: RecBench overview", caption=caption, label="tab:recbench",
                header=header, md_rows=rows_md, tex_rows=rows_tex)
    return out


def write_per_recommender(frame: pl.DataFrame, recommender: str, task: str, rate: float, methods: list[str],
                          categories: list[str], name: str, paths: dict, context: dict | None = None,
                          kinds: dict[str, str] | None = None) -> pl.DataFrame:
    """Tables A.12–A.17: one recommender × task; per category, ground truth and the MLLMs (the paper's
    rows, the best MLLM bold and the second underlined per column), then the methods the paper does not
    have (‡); every Recall@k and NDCG@k, mean ± std over seeds; ``≈`` marks a difference to ground truth
    within the seed spread, ``∅`` one to the empty control within the seed spread."""
    kinds = kinds or {}
    order = _method_order(methods, kinds)
    metrics = metric_names(frame)
    block = frame.filter((pl.col("recommender") == recommender)
                         & (((pl.col("task") == task) & (pl.col("rate") == rate))
                            | pl.col("variant").is_in([ORIGINAL, "popularity"])))
    block = block.with_columns(pl.col("method").replace_strict(order, default=len(order)).alias("_order")).sort(
        ["category", "_order"]).drop("_order")
    blind = indistinguishable(frame, rate).filter((pl.col("recommender") == recommender) & (pl.col("task") == task))
    blind_categories = sorted(blind["category"].to_list())
    header = ["Category", "Method", *[header_of(m) for m in metrics]]
    rows_md, rows_tex = [], []
    for category in categories:
        rows = list(block.filter(pl.col("category") == category).iter_rows(named=True))
        models = {r["method"]: r for r in rows if kinds.get(r["method"]) == "model"}
        marks = {m: best_two({k: r[f"{m}_mean"] for k, r in models.items()}) for m in metrics}
        in_paper = [r for r in rows if r["method"] == ORIGINAL or r["method"] in models]
        for r in in_paper + [r for r in rows if r not in in_paper]:
            method = r["method"]
            name_cell = method + ("" if r in in_paper else BEYOND)
            md, tex = [category, name_cell], [latex_escape(category), latex_escape(name_cell)]
            for metric in metrics:
                mark = " ≈" if r[f"{metric}_within_spread"] and method not in (ORIGINAL, "popularity") else ""
                floor = method != NO_INFORMATION and bool(r.get(f"{metric}_within_empty_spread"))
                mark += " ∅" if floor else ""
                std = r[f"{metric}_std"] if r["n_seeds"] > 1 else None
                best = marks[metric].get(method)
                text = marked(fmt(r[f"{metric}_mean"]), best) + ("" if std is None else f" ± {fmt(std)}")
                md.append(text + mark)
                tex.append("$" + marked(fmt(r[f"{metric}_mean"]), best, latex=True)
                           + ("" if std is None else rf" \pm {fmt(std)}") + "$"
                           + (r"$^{\approx}$" if "≈" in mark else "") + (r"$^{\emptyset}$" if floor else ""))
            rows_md.append(md)
            rows_tex.append(tex)
    verdict = ("On " + ", ".join(blind_categories) + " the shuffled control lies within the seed spread of ground "
               "truth: the benchmark cannot distinguish completions there.") if blind_categories else (
               "The shuffled control lies outside the seed spread of ground truth on every category.")
    floor = ("∅ = within the seed spread of the empty control (features that carry nothing): such a cell has "
             "shown nothing. " if NO_INFORMATION in set(methods) else "")
    content = RECOMMENDERS[recommender].content  # how its features reach its score: what its rows can show
    caption = (f"RecBench, {recommender}, {task_name(task)}, missing rate {rate}: test metrics, mean ± std over "
               "seeds. As the paper: per category, ground truth (original) and the MLLMs, the best MLLM in bold "
               "and the second underlined (Markdown: italic) per column; ‡ = a method the paper does not have. "
               f"≈ = difference to ground truth within the seed spread (|Δ| ≤ √(std² + std_gt²)); {floor}"
               f"{verdict} " + (f"{content} " if content else "") + runs_note(context or {}) + zero_rows_note(context or {}, block["method"].to_list()))
    title = f"Table {name}: RecBench {recommender} {task_name(task)}"
    table = block.with_columns(pl.lit(",".join(blind_categories)).alias("shuffled_indistinguishable_on"))
    write_table(table, paths, title=title, caption=caption, label=f"tab:recbench-{recommender.lower()}-{task}",
                header=header, md_rows=rows_md, tex_rows=rows_tex)
    return table


def write_heatmap(frame: pl.DataFrame, rate: float, methods: list[str], categories: list[str], out_png,
                  metric: str = "recall@20", out_csv=None) -> np.ndarray:
    """Figure 4: Δ% of ``metric`` to ground truth per method × category (mean over recommenders), one
    panel per task, blue for a loss and red for a gain as the paper; a dot marks a cell within the seed
    spread for every recommender. ``out_csv``: its source data, a row per cell (task, method, category,
    Δ%, the marks, and the colour the cell is painted)."""
    plt = pyplot()

    at_rate = frame.filter((pl.col("rate") == rate) & pl.col("task").is_not_null())
    present = [m for m in methods if m in set(at_rate["method"])]
    grids, dots, floors = [], [], []
    tasks = [t for t in ("i2t", "t2i") if t in set(at_rate["task"])]
    for task in tasks:
        grid = np.full((len(present), len(categories)), np.nan)
        within = np.zeros_like(grid, dtype=bool)
        floor = np.zeros_like(grid, dtype=bool)
        for r in at_rate.filter(pl.col("task") == task).group_by(["method", "category"]).agg(
            pl.col(f"{metric}_rel_diff").mean().alias("v"), pl.col(f"{metric}_within_spread").all().alias("w"),
            pl.col(f"{metric}_within_empty_spread").fill_null(False).all().alias("e"),
        ).iter_rows(named=True):
            i, j = present.index(r["method"]), categories.index(r["category"])
            grid[i, j], within[i, j] = r["v"], r["w"]
            floor[i, j] = r["e"] and r["method"] != NO_INFORMATION
        grids.append(grid)
        dots.append(within)
        floors.append(floor)
    finite = np.concatenate([g[~np.isnan(g)] for g in grids])
    limit = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    fig, axes = plt.subplots(1, len(tasks), sharey=True, squeeze=False,
                             figsize=(3.0 + 2.0 * len(categories), 1.4 + 0.42 * len(present)), dpi=100,
                             constrained_layout=True)
    axes = axes[0]
    drawn = []
    for ax, task, grid, within, floor in zip(axes, tasks, grids, dots, floors):
        # as the paper: blue = degradation (Δ < 0), red = gain
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        colours = image.to_rgba(grid, bytes=True)
        drawn += [{"task": task, "method": method, "category": category, "rel_diff": float(grid[i, j]),
                   "within_spread": bool(within[i, j]), "within_empty_spread": bool(floor[i, j]),
                   "colour": "#{:02x}{:02x}{:02x}".format(*colours[i, j, :3])}
                  for i, method in enumerate(present) for j, category in enumerate(categories)
                  if not np.isnan(grid[i, j])]
        for i in range(len(present)):
            for j in range(len(categories)):
                if not np.isnan(grid[i, j]):
                    marks = ("•" if within[i, j] else "") + ("∅" if floor[i, j] else "")
                    ax.text(j, i, f"{grid[i, j]:+.0f}{marks}", ha="center", va="center",
                            fontsize=7, color="white" if abs(grid[i, j]) > 0.6 * limit else "black")
        ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories], rotation=30, ha="right",
                      fontsize=7)
        ax.set_title(f"{task_name(task)}", fontsize=9)
    axes[0].set_yticks(range(len(present)), present, fontsize=7)
    fig.colorbar(image, ax=axes, shrink=0.8, label=f"Δ% {header_of(metric)} vs ground truth")
    fig.suptitle(f"RecBench at missing rate {rate}: Δ% to ground truth, mean over recommenders\n"
                 "(• = within the seed spread of ground truth, ∅ = within that of the empty control, "
                 "for every recommender)", fontsize=9)
    save_png(fig, out_png)
    if out_csv is not None:
        save_data(pl.DataFrame(drawn, schema={"task": pl.Utf8, "method": pl.Utf8, "category": pl.Utf8,
                                              "rel_diff": pl.Float64, "within_spread": pl.Boolean,
                                              "within_empty_spread": pl.Boolean, "colour": pl.Utf8}), out_csv)
    return np.stack(grids)


def write_rate_figure(frame: pl.DataFrame, methods: list[str], out_png) -> pl.DataFrame:
    """Recall@20 and NDCG@20 against the missing rate per method (mean over categories and recommenders),
    one row of panels per task; ground truth is the dashed line (rate 0 is ground truth for every method)."""
    plt = pyplot()

    curves = frame.filter(pl.col("task").is_not_null()).group_by(["task", "method", "rate"]).agg(
        pl.col("recall@20_mean").mean().alias("recall@20"), pl.col("ndcg@20_mean").mean().alias("ndcg@20")
    ).sort(["task", "method", "rate"])
    truth = frame.filter(pl.col("variant") == ORIGINAL).select(
        pl.col("recall@20_mean").mean().alias("recall@20"), pl.col("ndcg@20_mean").mean().alias("ndcg@20"))
    tasks = [t for t in ("i2t", "t2i") if t in set(curves["task"])]
    fig, axes = plt.subplots(len(tasks), 2, figsize=(10, 3.5 * len(tasks)), dpi=100, sharex=True, squeeze=False)
    for row, task in enumerate(tasks):
        for col, metric in enumerate(("recall@20", "ndcg@20")):
            ax = axes[row, col]
            for method in methods:
                curve = curves.filter((pl.col("task") == task) & (pl.col("method") == method))
                if curve.height:
                    rates = [0.0, *curve["rate"].to_list()]
                    values = [truth[metric][0], *curve[metric].to_list()]
                    ax.plot(rates, values, marker="o", markersize=3, linewidth=1.2, label=method)
            ax.axhline(truth[metric][0], color="black", linestyle="--", linewidth=0.8)
            ax.set_title(f"{task_name(task)}: {header_of(metric)}", fontsize=9)
            ax.set_xlabel("missing rate (share of items whose modality is replaced)", fontsize=8)
    axes[0, 1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.0 if len(tasks) > 1 else 0.5))
    fig.suptitle("RecBench: test metric against the missing rate (mean over categories and recommenders)", fontsize=10)
    save_png(fig, out_png)
    return curves


def write_recbench(results: list[tuple[str, str, str]], outputs: dict, rate: float, methods: list[str],
                   kinds: dict[str, str], categories: list[str], recommenders: list[str], n_seeds: int,
                   tasks: tuple[str, ...] = ("i2t", "t2i")) -> pl.DataFrame:
    """Every RecBench table and figure; ``outputs`` maps ``summary``, ``table6_{csv,md,tex}``,
    ``<name>_{csv,md,tex}`` for each per-recommender table, ``heatmap`` (and its source data
    ``heatmap_data``) and ``rates`` to paths."""
    context: dict = {}
    long = collect(results, context)
    frame = cells(long)
    with atomic_path(outputs["summary"]) as tmp:
        frame.write_csv(tmp, float_precision=6)
    write_table6(frame, rate, methods, kinds, {k: outputs[f"table6_{k}"] for k in ("csv", "md", "tex")}, n_seeds,
                 context)
    for name, (recommender, task) in per_recommender_tables(recommenders, tasks).items():
        write_per_recommender(frame, recommender, task, rate, methods, categories, name.replace("table", ""),
                              {k: outputs[f"{name}_{k}"] for k in ("csv", "md", "tex")}, context, kinds)
    write_heatmap(frame, rate, methods, categories, outputs["heatmap"], out_csv=outputs.get("heatmap_data"))
    write_rate_figure(frame, methods, outputs["rates"])
    return frame


def per_recommender_tables(recommenders: list[str], tasks=("i2t", "t2i")) -> dict[str, tuple[str, str]]:
    """Tables A.12 onward: (recommender, task) in config order, I→T before T→I (only the ``tasks`` whose
    replaced modality the recommenders see)."""
    pairs = [(r, t) for r in recommenders for t in TASKS if t in tasks]
    return {f"tableA{12 + i}": pair for i, pair in enumerate(pairs)}
