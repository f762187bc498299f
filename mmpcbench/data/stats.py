"""Table 1 of the paper: users, items and interactions per category, from the files the data stages wrote."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl


def dataset_statistics(categories: list[str], splits: list[str], rec_sets: list[str], cq: list[str], grpo: list[str]) -> pl.DataFrame:
    """One row per category: selection strategy, users, items, interactions, density, the split sizes,
    the sample sizes and the items dropped because their image could not be had."""
    rows = []
    for category, split_path, rec_set_path, cq_path, grpo_path in zip(categories, splits, rec_sets, cq, grpo):
        split = pl.read_parquet(split_path)
        rec_set = json.loads(Path(rec_set_path).read_text())
        users, items = split["userID"].n_unique(), split["itemID"].n_unique()
        rows.append(
            {
                "category": category,
                "selection": rec_set["selection"],
                "users": users,
                "items": items,
                "interactions": split.height,
                "density_pct": round(100 * split.height / max(1, users * items), 4),
                "train": int((split["x_label"] == 0).sum()),
                "valid": int((split["x_label"] == 1).sum()),
                "test": int((split["x_label"] == 2).sum()),
                "cq_items": pl.read_parquet(cq_path).height,
                "grpo_items": pl.read_parquet(grpo_path).height,
                "items_without_image": rec_set["counts"]["items_without_image"],
            }
        )
    return pl.DataFrame(rows)
