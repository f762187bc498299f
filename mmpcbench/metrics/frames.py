"""What the text and image metric functions share: checking a request and building the per-pair frame."""

from __future__ import annotations

import numpy as np
import polars as pl


def requested(metrics, known: tuple[str, ...], kind: str, n_references: int, n_candidates: int, noun: str) -> list[str]:
    """The metric names asked for (None = all ``known``), checked; the two lists must pair up."""
    metrics = list(known if metrics is None else metrics)
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ValueError(f"unknown {kind} metrics {unknown}; known: {list(known)}")
    if n_references != n_candidates:
        raise ValueError(f"{n_references} references but {n_candidates} {noun}")
    return metrics


def pair_frame(columns: dict[str, np.ndarray], metrics: list[str], present: np.ndarray) -> pl.DataFrame:
    """One row per pair: ``columns`` hold the values of the present pairs, in order; an absent pair is
    null in every column (NaN stays NaN: a metric undefined for a present pair)."""
    keep = np.flatnonzero(present)
    full = {}
    for metric in metrics:
        values = np.full(len(present), np.nan)
        values[keep] = columns[metric]
        full[metric] = values
    frame = pl.DataFrame(full, schema={m: pl.Float64 for m in metrics})
    return frame.with_columns(pl.when(pl.Series(present)).then(pl.col(m)).otherwise(None).alias(m) for m in metrics)
