"""Seeded samples of items: the CQBench sample and the GRPO training sample, disjoint.

The sample is a pure function of (the set of item ids, seed, n): ids are sorted before a seeded
shuffle, so the same config gives the same ids on every rerun and on every machine, whatever the
order of the input file. (The authors' code took the first 1,000 images sorted by file name, i.e.
by ASIN, which ties the sample to how ASINs were assigned; a seeded random sample avoids that bias.)
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

log = logging.getLogger(__name__)


def sample_items(items: pl.DataFrame, n: int, seed: int, exclude: pl.DataFrame | None = None) -> pl.DataFrame:
    """Draw ``n`` items (all of them if fewer) uniformly without replacement, leaving out the
    ``parent_asin``s of ``exclude``. Rows come back sorted by ``parent_asin``; a shortfall is logged."""
    pool = items
    if exclude is not None:
        pool = pool.join(exclude.select("parent_asin"), on="parent_asin", how="anti")
    pool = pool.sort("parent_asin")
    if pool.height < n:
        log.warning("sample of %d items asked for, only %d available: taking all of them", n, pool.height)
        return pool
    chosen = np.sort(np.random.default_rng(seed).permutation(pool.height)[:n])
    return pool[chosen]
