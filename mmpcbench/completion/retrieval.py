"""The retrieval baseline: complete an item's missing modality with its nearest neighbour's.

I→T: the text of the pool item whose *image* embedding is closest to the item's image; T→I: the image
of the pool item whose *text* embedding is closest to the item's text (cosine similarity of
L2-normalised embeddings). The pool is the category's rec items outside the CQ sample (so no item
scored by CQBench can find itself or another scored item), and an item never retrieves itself. Ties go
to the smallest ``parent_asin``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mmpcbench.encoders import l2_normalise


def nearest_sources(query: np.ndarray, query_asins: list[str], pool: np.ndarray, pool_asins: list[str],
                    block: int = 2048) -> pl.Series:
    """For each query row, the ``parent_asin`` of the most similar pool row that is not itself."""
    if len(pool_asins) == 0 or (len(pool_asins) == 1 and pool_asins[0] in query_asins):
        raise ValueError("the retrieval pool is empty: no rec item outside the CQ sample to retrieve from")
    order = np.argsort(np.asarray(pool_asins, dtype=object), kind="stable")
    pool, pool_asins = pool[order], [pool_asins[i] for i in order]
    position = {asin: i for i, asin in enumerate(pool_asins)}
    sources = []
    for start in range(0, len(query_asins), block):
        similarity = query[start : start + block] @ pool.T
        for row, asin in enumerate(query_asins[start : start + block]):
            if asin in position:
                similarity[row, position[asin]] = -np.inf
        sources += [pool_asins[i] for i in similarity.argmax(axis=1)]
    return pl.Series("source_asin", sources, dtype=pl.String)


def retrieval_sources(items: pl.DataFrame, embeddings: pl.DataFrame, pool_asins: list[str]) -> pl.Series:
    """Sources for every item of ``items`` from ``embeddings`` (``parent_asin, embedding``) of the
    modality the item still has; the pool is ``pool_asins``."""
    table = embeddings.select("parent_asin", "embedding")
    lookup = dict(zip(table["parent_asin"], range(table.height)))
    matrix = l2_normalise(np.asarray(table["embedding"].to_list(), dtype=np.float32))  # cosine similarity
    missing = [a for a in items["parent_asin"] if a not in lookup]
    if missing:
        raise ValueError(f"{len(missing)} items have no embedding, e.g. {missing[:3]}")
    query = matrix[[lookup[a] for a in items["parent_asin"]]]
    pool = matrix[[lookup[a] for a in pool_asins]]
    return nearest_sources(query, items["parent_asin"].to_list(), pool, list(pool_asins))


class RetrievalBaseline:
    """The retrieval baseline as a borrowing completion method: it reads the embeddings of the modality
    each item still has, and the CQ sample (kept out of the pool)."""

    name = "retrieval"
    kind = "baseline"
    inputs = ("query_embeddings", "cq_items")

    def sources(self, items: pl.DataFrame, seed: int, inputs: dict[str, str]) -> pl.Series:
        cq = set(pl.read_parquet(inputs["cq_items"], columns=["parent_asin"])["parent_asin"])
        pool = [asin for asin in items["parent_asin"] if asin not in cq]
        return retrieval_sources(items, pl.read_parquet(inputs["query_embeddings"]), pool)
