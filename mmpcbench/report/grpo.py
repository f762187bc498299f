"""GRPO tables and figure (the paper's Tables 7, 8, A.9 and Figure A.5), from files the pipeline wrote.

- **before / after**: the base MLLM's and its GRPO adapter's completions of the CQ sample, scored by
  CQBench (the per-item score files), per metric; the mean per category, then — as Tables 2–3 — the
  mean ± std **across the categories' means**;
- **paired bootstrap 95% interval of after − before** (the paper reported no test): the CQ items of
  each category are resampled (``resamples`` times, seeded per task × category × metric), the same
  items for before and after; per replicate the category means' differences are averaged over the
  categories; the interval is the percentile interval of those averages. An interval that excludes 0
  is a difference the sample can tell;
- Table 7 (I→T) also shows **the training reward itself** — computed by the GRPO stage's own reward
  objects (:func:`mmpcbench.grpo.train.build_rewards`) on each CQ item's raw answer: the format term
  (``format_scale`` when the answer parses, else 0) plus ``text_scale`` × the text encoder's cosine of
  the parsed title and the true text, 0 for an answer that does not parse or is missing — beside the
  held-out metrics (TF-IDF cosine, Euclidean, overlap, BERTScore). The caption gives the verdict: a
  gain on the reward metric alone is **reward hacking**; a gain on a held-out metric is a gain;
- Table A.9: per category, before and after for every metric of both tasks;
- Figure A.5: the total reward per training step for each task, raw and smoothed (a centred moving
  mean over ``window`` steps), from the reward logs.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.families import METRICS, TASKS, Table
from mmpcbench.report.figures import pyplot, save_data, save_png
from mmpcbench.report.tables import fmt, latex_escape, write_table
from mmpcbench.seeds import derive_seed

REWARD_METRIC = "reward"
REWARD_LABEL = "GRPO reward (format + scaled encoder cosine)"


def task_metrics(task: str) -> list[str]:
    """The metrics Tables 7/8 compare: a text task's reward metric itself, then its CQBench metrics."""
    return ([REWARD_METRIC] if _rewards_text(task) else []) + TASKS[task].metrics()


def _rewards_text(task: str) -> bool:
    """Whether the task's GRPO reward is the text encoder's cosine (the task completes text)."""
    return TASKS[task].completes == "text"


def metric_label(metric: str) -> str:
    return REWARD_LABEL if metric == REWARD_METRIC else METRICS[metric].label


def reward_scores(cq_items_path, completions_path, rewards: list) -> pl.DataFrame:
    """Per CQ item, the total training reward of its raw answer (``rewards``: the GRPO stage's reward
    callables, their values summed; the item's true text as the reference; a missing answer: 0)."""
    cq = pl.read_parquet(cq_items_path, columns=["parent_asin", "text"])
    answers = pl.read_parquet(completions_path, columns=["parent_asin", "raw"])
    joined = cq.join(answers, on="parent_asin", how="left").sort("parent_asin")
    present = [i for i, raw in enumerate(joined["raw"].to_list()) if raw is not None]
    total = np.zeros(joined.height)
    if present:
        raws = [joined["raw"][i] for i in present]
        references = [joined["text"][i] for i in present]
        for reward in rewards:
            total[present] += np.asarray(reward(completions=raws, reference_text=references), dtype=float)
    return pl.DataFrame({"parent_asin": joined["parent_asin"], REWARD_METRIC: total})


def item_scores(score_path, reward: pl.DataFrame | None = None) -> pl.DataFrame:
    """The CQBench per-item scores (and the reward metric, I→T), sorted by item."""
    frame = pl.read_parquet(score_path)
    if reward is not None:
        frame = frame.join(reward, on="parent_asin", how="left")
    return frame.sort("parent_asin")


def compare(pairs: dict, resamples: int = 1000, level: float = 0.95, seed: int = 0) -> pl.DataFrame:
    """``pairs``: (task, before, after) → {category: (before frame, after frame)}. One row per (task,
    before, after, metric, category or "all"): the means, the difference and, for "all", the std across
    categories and the paired bootstrap interval of the difference (see the module docstring)."""
    alpha = (1 - level) / 2
    rows = []
    for (task, before, after), by_category in pairs.items():
        frames = [frame for pair in by_category.values() for frame in pair]
        for metric in [m for m in task_metrics(task) if all(m in frame.columns for frame in frames)]:
            diffs, means_b, means_a, n_items = [], [], [], 0
            for category, (frame_b, frame_a) in by_category.items():
                if frame_b["parent_asin"].to_list() != frame_a["parent_asin"].to_list():
                    raise ValueError(f"{task}/{category}: {before} and {after} were not scored on the same items")
                b = frame_b[metric].cast(pl.Float64).fill_null(np.nan).to_numpy()
                a = frame_a[metric].cast(pl.Float64).fill_null(np.nan).to_numpy()
                rng = np.random.default_rng(derive_seed(seed, "grpo", task, category, metric))
                index = rng.integers(0, len(b), size=(resamples, len(b))) if len(b) else np.zeros((resamples, 0), int)
                with np.errstate(invalid="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN replicate stays NaN
                    diffs.append(np.nanmean(a[index], axis=1) - np.nanmean(b[index], axis=1))
                    mb, ma = float(np.nanmean(b)) if len(b) else math.nan, float(np.nanmean(a)) if len(a) else math.nan
                means_b.append(mb)
                means_a.append(ma)
                n_items += len(b)
                rows.append({"task": task, "before": before, "after": after, "metric": metric, "category": category,
                             "before_mean": mb, "after_mean": ma, "difference": ma - mb, "before_std": math.nan,
                             "after_std": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_items": len(b)})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                average = np.nanmean(np.stack(diffs), axis=0) if diffs else np.array([math.nan])
            finite = average[~np.isnan(average)]
            low, high = ((float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha)))
                         if finite.size else (math.nan, math.nan))
            rows.append({"task": task, "before": before, "after": after, "metric": metric, "category": "all",
                         "before_mean": float(np.mean(means_b)), "after_mean": float(np.mean(means_a)),
                         "difference": float(np.mean(means_a) - np.mean(means_b)),
                         "before_std": float(np.std(means_b)), "after_std": float(np.std(means_a)),
                         "ci_low": low, "ci_high": high, "n_items": n_items})
    return pl.DataFrame(rows, infer_schema_length=None)


def _better(metric: str, low: float, high: float) -> bool | None:
    """True: the interval says after is better; False: worse; None: cannot tell (or no interval)."""
    if math.isnan(low) or (low <= 0 <= high):
        return None
    gain = low > 0
    return gain if metric == REWARD_METRIC or METRICS[metric].higher_is_better else not gain


def verdict(rows: list[dict]) -> str:
    """What Table 7's rows say: a real gain, reward hacking, or no gain the sample can tell."""
    better = {r["metric"]: _better(r["metric"], r["ci_low"], r["ci_high"]) for r in rows}
    held_out = [m for m in better if m != REWARD_METRIC]
    if any(better[m] for m in held_out):
        gains = ", ".join(m for m in held_out if better[m])
        return f"Held-out metrics improve ({gains}): a gain beyond the reward."
    if better.get(REWARD_METRIC):
        return "Only the reward metric improves, no held-out metric does: reward hacking."
    return "No metric improves beyond the bootstrap interval: no gain the CQ sample can tell."


def _interval(row) -> str:
    if math.isnan(row["ci_low"]):
        return "—"
    return f"{row['difference']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"


def write_before_after(frame: pl.DataFrame, task: str, paths: dict, n_categories: int, level: float,
                       caption_extra: str = "") -> pl.DataFrame:
    """Table 7 (I→T) or 8 (T→I): per metric, before and after (mean ± std across categories) and the
    paired bootstrap interval of after − before."""
    table = frame.filter((pl.col("task") == task) & (pl.col("category") == "all"))
    header = ["before → after", "metric", "before", "after", f"after − before [{int(level * 100)}% CI]"]
    md_rows, tex_rows, verdicts = [], [], []
    for (before, after), group in table.group_by(["before", "after"], maintain_order=True):
        rows = group.to_dicts()
        verdicts.append(f"{after} vs {before}: {verdict(rows) if _rewards_text(task) else _image_verdict(rows)}")
        for r in rows:
            pair = f"{before} → {after}"
            name = metric_label(r["metric"])
            b, a = f"{fmt(r['before_mean'])} ± {fmt(r['before_std'])}", f"{fmt(r['after_mean'])} ± {fmt(r['after_std'])}"
            md_rows.append([pair, name, b, a, _interval(r)])
            tex_rows.append([latex_escape(pair), latex_escape(name), b.replace("±", r"$\pm$"),
                             a.replace("±", r"$\pm$"), _interval(r)])
    reward = (" The first row is the training reward itself, computed by the GRPO stage's reward code on each raw "
              "answer (the format term plus the scaled encoder cosine of the parsed title and the true text; 0 for "
              "an answer that does not parse), not a held-out metric; the others are CQBench's held-out metrics."
              if REWARD_METRIC in table["metric"].to_list() else "")
    caption = (f"GRPO {TASKS[task].label}: the base model (before) and its GRPO adapter (after) on "
               f"the CQ sample; mean ± std across {n_categories} categories; after − before with a paired bootstrap "
               f"{int(level * 100)}% interval (items resampled per category, the same for both).{reward} "
               + " ".join(verdicts) + caption_extra)
    title = f"Table {Table.of('grpo', task, 'before_after').number}: GRPO {TASKS[task].label} before and after"
    write_table(table, paths, title=title, caption=caption, label=f"tab:grpo-{task}", header=header,
                md_rows=md_rows, tex_rows=tex_rows)
    return table


def _image_verdict(rows: list[dict]) -> str:
    better = [r["metric"] for r in rows if _better(r["metric"], r["ci_low"], r["ci_high"])]
    worse = [r["metric"] for r in rows if _better(r["metric"], r["ci_low"], r["ci_high"]) is False]
    if not better and not worse:
        return "no metric changes beyond the bootstrap interval."
    return f"better on {', '.join(better) or 'none'}; worse on {', '.join(worse) or 'none'}."


def write_per_category(frame: pl.DataFrame, paths: dict) -> pl.DataFrame:
    """Table A.9: per task × category × metric, before and after (means over the category's items)."""
    table = frame.filter(pl.col("category") != "all")
    header = ["task", "before → after", "category", "metric", "before", "after", "after − before"]
    md_rows = [[r["task"], f"{r['before']} → {r['after']}", r["category"], metric_label(r["metric"]),
                fmt(r["before_mean"]), fmt(r["after_mean"]), f"{r['difference']:+.4f}"] for r in table.to_dicts()]
    tex_rows = [[latex_escape(c) for c in row] for row in md_rows]
    caption = ("GRPO per category: the base model (before) and its GRPO adapter (after) on each category's CQ sample, "
               "the mean over its items (I→T and T→I).")
    write_table(table, paths, title=f"Table {Table.of('grpo', None, 'per_category').number}: GRPO per category", caption=caption, label="tab:grpo-category",
                header=header, md_rows=md_rows, tex_rows=tex_rows)
    return table


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """A centred moving mean over ``window`` steps (shorter at the ends)."""
    out = np.empty(len(values))
    half = window // 2
    for i in range(len(values)):
        out[i] = np.nanmean(values[max(0, i - half) : i + half + 1])
    return out


def write_reward_curves(logs: dict[str, str], out_png, window: int = 10, out_csv=None) -> dict[str, pl.DataFrame]:
    """Figure A.5: per task the total reward and each component per step, raw and smoothed, and the total
    reward on the held-out tenth where it was evaluated (points). ``out_csv``: its source data, a row per
    task × curve × step (raw and smoothed values)."""
    plt = pyplot()
    drawn = []
    frames = {task: pl.read_parquet(path) for task, path in logs.items()}
    fig, axes = plt.subplots(1, len(frames), figsize=(5.5 * len(frames), 3.6), dpi=100, squeeze=False)
    for ax, (task, frame) in zip(axes[0], frames.items()):
        steps = frame["step"].to_numpy()
        components = [c[: -len("_mean")] for c in frame.columns if c.endswith("_mean")]
        for column, label in [("reward", "total"), *[(f"{c}_mean", c) for c in components]]:
            values = frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
            smoothed = smooth(values, window)
            line = ax.plot(steps, values, alpha=0.35, linewidth=0.8)[0]
            ax.plot(steps, smoothed, color=line.get_color(), linewidth=1.6, label=f"{label}")
            drawn += [{"task": task, "curve": label, "step": int(step), "raw": float(raw), "smoothed": float(mean)}
                      for step, raw, mean in zip(steps, values, smoothed)]
        if "heldout_reward" in frame.columns and frame["heldout_reward"].is_not_null().any():
            held = frame.filter(pl.col("heldout_reward").is_not_null())
            ax.plot(held["step"].to_numpy(), held["heldout_reward"].to_numpy(), "o--", color="black", markersize=4,
                    linewidth=1.0, label="total, held-out tenth")
            drawn += [{"task": task, "curve": "total, held-out tenth", "step": int(step), "raw": float(value),
                       "smoothed": None} for step, value in held.select("step", "heldout_reward").iter_rows()]
        ax.set_title(f"GRPO {TASKS[task].label}: reward per step", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"Figure A.5: reward curves (thin: raw; thick: moving mean over {window} steps)", fontsize=9)
    save_png(fig, out_png)
    if out_csv is not None:
        save_data(pl.DataFrame(drawn, schema={"task": pl.Utf8, "curve": pl.Utf8, "step": pl.Int64, "raw": pl.Float64,
                                              "smoothed": pl.Float64}), out_csv)
    return frames


def write_grpo_report(*, pairs_spec: list[dict], outputs: dict, bootstrap: dict, records: dict[str, str],
                      reward_logs: dict[str, str], reward: dict | None = None, window: int = 10) -> pl.DataFrame:
    """Every GRPO table and the figure. ``pairs_spec``: per (task, before, after, category) the score
    files (``before_scores``, ``after_scores``) and, for I→T, the files of the training reward
    (``cq_items``, ``before_completions``, ``after_completions``). ``reward``: what the I→T reward needs
    (``answer_key``, the ``rewards`` scales, the text ``encoder``). ``records``: the ``grpo.json`` per
    task (the captions say how each adapter was trained)."""
    text_rewards = None
    if reward and any(_rewards_text(spec["task"]) for spec in pairs_spec):
        from mmpcbench.grpo.train import ParseRate, build_rewards

        text_task = next(task for task in TASKS if _rewards_text(task))
        text_rewards = [r for r in build_rewards(text_task, reward["answer_key"], reward["rewards"],
                                                 {"text": reward["encoder"]}, {}, {}) if not isinstance(r, ParseRate)]
    pairs: dict = {}
    for spec in pairs_spec:
        reward_b = reward_a = None
        if _rewards_text(spec["task"]) and text_rewards:
            reward_b = reward_scores(spec["cq_items"], spec["before_completions"], text_rewards)
            reward_a = reward_scores(spec["cq_items"], spec["after_completions"], text_rewards)
        key = (spec["task"], spec["before"], spec["after"])
        pairs.setdefault(key, {})[spec["category"]] = (item_scores(spec["before_scores"], reward_b),
                                                       item_scores(spec["after_scores"], reward_a))
    level = bootstrap.get("level", 0.95)
    frame = compare(pairs, bootstrap.get("resamples", 1000), level, bootstrap.get("seed", 0))
    trained = {task: json.loads(Path(path).read_text()) for task, path in records.items()}
    for task in TASKS:
        record = trained.get(task, {})
        extra = (f" The adapter: {record.get('steps')} steps at learning rate {record.get('learning_rate')} "
                 f"(stop: {record.get('stop_reason')}), {record.get('items', {}).get('train')} pool items."
                 if record else "")
        n_categories = len({c for (t, _, _), cats in pairs.items() if t == task for c in cats})
        write_before_after(frame, task, {k: outputs[f"{Table.of('grpo', task, 'before_after').name}_{k}"] for k in ("csv", "md", "tex")},
                           n_categories, level, extra)
    write_per_category(frame, {k: outputs[f"{Table.of('grpo', None, 'per_category').name}_{k}"] for k in ("csv", "md", "tex")})
    write_reward_curves(reward_logs, outputs["figure"], window, out_csv=outputs.get("figure_data"))
    return frame
