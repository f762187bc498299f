"""MMRec's per-user train/valid/test split and its on-disk format.

For a user with ``n`` interactions in the chosen order: ``n < 10`` gives ``n − 2`` train, 1 valid,
1 test (the last two); otherwise ``int(0.2 n)`` are held out, ``floor`` half of them valid and the
rest test, at the end of the order. The order is ``chronological`` (time, then raw line: the
held-out items are the latest, as in the authors' code) or ``random`` (a seeded shuffle per user, as
MMRec's notebooks, which were unseeded). Users with fewer than 3 interactions cannot have a train,
a valid and a test item: they are kept in train only, and counted. Ids are contiguous and 0-based,
users and items each sorted by raw id. Valid/test rows of a user without a train row (cold start)
are dropped, as MMRec's ``filter_out_cod_start_users``; with the rule above there are none unless
``n < 3``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

TRAIN, VALID, TEST = 0, 1, 2


def split_labels(n: int) -> list[int]:
    """The ``x_label`` of a user's ``n`` ordered interactions under MMRec's rule."""
    if n < 3:
        return [TRAIN] * n
    if n < 10:
        return [TRAIN] * (n - 2) + [VALID, TEST]
    held_out = int(0.2 * n)
    valid = held_out // 2
    return [TRAIN] * (n - held_out) + [VALID] * valid + [TEST] * (held_out - valid)


def rec_split(interactions: pl.DataFrame, order: str = "chronological", seed: int = 0) -> tuple[pl.DataFrame, dict]:
    """Return (the MMRec table ``userID, itemID, rating, timestamp, x_label, user_id, parent_asin``,
    counts). ``interactions`` has ``user_id, parent_asin, rating, timestamp, line``."""
    if order == "chronological":
        frame = interactions.sort(["user_id", "timestamp", "line"])
    elif order == "random":
        key = np.random.default_rng(seed).permutation(interactions.height)
        frame = interactions.sort(["user_id", "parent_asin"]).with_columns(pl.Series("_key", key)).sort(
            ["user_id", "_key"]
        ).drop("_key")
    else:
        raise ValueError(f"unknown split order {order!r}; known: ['chronological', 'random']")
    sizes = frame.group_by("user_id", maintain_order=True).len()
    labels = np.concatenate([split_labels(n) for n in sizes["len"].to_list()]) if sizes.height else np.array([])
    frame = frame.with_columns(pl.Series("x_label", labels, dtype=pl.Int8))
    users = frame.select("user_id").unique().sort("user_id").with_row_index("userID")
    items = frame.select("parent_asin").unique().sort("parent_asin").with_row_index("itemID")
    frame = frame.join(users, on="user_id").join(items, on="parent_asin")
    has_train = frame.filter(pl.col("x_label") == TRAIN).select("user_id").unique()
    cold = frame.filter(pl.col("x_label") != TRAIN).join(has_train, on="user_id", how="anti")
    frame = frame.join(cold.select("user_id", "parent_asin"), on=["user_id", "parent_asin"], how="anti")
    table = frame.select(
        pl.col("userID").cast(pl.Int64), pl.col("itemID").cast(pl.Int64), "rating", "timestamp", "x_label",
        "user_id", "parent_asin",
    ).sort(["userID", "x_label", "timestamp", "itemID"])
    counts = {
        "users": users.height,
        "items": items.height,
        "train": int((table["x_label"] == TRAIN).sum()),
        "valid": int((table["x_label"] == VALID).sum()),
        "test": int((table["x_label"] == TEST).sum()),
        "users_below_3_train_only": int((sizes["len"] < 3).sum()),
        "cold_start_rows_dropped": cold.height,
    }
    return table, counts


def write_mmrec(table: pl.DataFrame, inter_path, user_map_path, item_map_path) -> None:
    """Write MMRec's files: the tab-separated ``.inter`` and the two id mappings."""
    from mmpcbench.io import atomic_path

    with atomic_path(inter_path) as tmp:
        table.select("userID", "itemID", "rating", "timestamp", "x_label").write_csv(tmp, separator="\t")
    with atomic_path(user_map_path) as tmp:
        table.select(pl.col("user_id").alias("original_id"), pl.col("userID").alias("new_id")).unique().sort(
            "new_id"
        ).write_csv(tmp)
    with atomic_path(item_map_path) as tmp:
        table.select(pl.col("parent_asin").alias("original_id"), pl.col("itemID").alias("new_id")).unique().sort(
            "new_id"
        ).write_csv(tmp)
