"""How often each model's answers parsed, per category and task: reported next to every table."""

from __future__ import annotations

import polars as pl

# the answer parser's statuses, then an item not sent to the model, then one a served engine got no answer for
STATUSES = ("ok", "repaired", "missing_key", "not_json", "empty", "image_error", "empty_input", "no_answer")


def parse_status_table(completions: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """One row per (model, category, task) from ``(model, category, task, path)`` tuples: items, the
    count of each ``parse_status`` and the share of answers that did not parse (``failed_pct``)."""
    rows = []
    for model, category, task, path in completions:
        counts = pl.read_parquet(path, columns=["parse_status"])["parse_status"].value_counts()
        by_status = dict(zip(counts["parse_status"], counts["count"]))
        unknown = set(by_status) - set(STATUSES)
        if unknown:
            raise ValueError(f"{path}: unknown parse_status {sorted(unknown)}")
        items = int(sum(by_status.values()))
        failed = items - by_status.get("ok", 0) - by_status.get("repaired", 0)
        rows.append({"model": model, "category": category, "task": task, "items": items,
                     **{status: int(by_status.get(status, 0)) for status in STATUSES},
                     "failed_pct": round(100 * failed / max(items, 1), 2)})
    return pl.DataFrame(rows).sort(["model", "task", "category"])
