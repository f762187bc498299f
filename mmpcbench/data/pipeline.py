"""The data stages as file-to-file functions: what each workflow rule calls.

Each function reads its inputs, calls the in-memory functions of :mod:`mmpcbench.data`, and writes
its outputs atomically, with a small JSON report of counts (what was kept and dropped, and why).
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

from mmpcbench.data.fetch import fetch_images, relative_image_paths
from mmpcbench.data.sample import sample_items
from mmpcbench.data.select import eligible_items, finalize_rec_set, select_authors_code, select_kcore
from mmpcbench.data.split import rec_split, write_mmrec
from mmpcbench.io import atomic_path, write_json, write_parquet

log = logging.getLogger(__name__)

IMAGE_FIELDS = {"large": "image_large", "hi_res": "image_hi_res"}
EMPTY_INTERACTIONS = {
    "user_id": pl.String, "parent_asin": pl.String, "rating": pl.Float64, "timestamp": pl.Int64, "line": pl.Int64,
}


def select_candidates(
    interactions_path, items_path, selection: dict, url_field: str, candidates_out, interactions_out, report_out
) -> dict:
    """Step 1 of the configured selection: the candidate items (whose images are fetched next) and,
    for ``kcore``, the k-core interactions."""
    interactions = pl.scan_parquet(interactions_path)
    items = pl.read_parquet(items_path)
    strategy = selection["strategy"]
    image_field = IMAGE_FIELDS[url_field]
    if strategy == "kcore":
        options = selection["kcore"]
        frame, candidates, counts = select_kcore(
            interactions, items, selection["text_field"], k=options.get("k", 5),
            max_items=options.get("max_items"), seed=options.get("seed", 0), image_field=image_field,
        )
    elif strategy == "authors_code":
        candidates, counts = select_authors_code(interactions, items, selection["text_field"], **{
            key: value for key, value in selection["authors_code"].items() if key != "min_user_interactions"
        })
        frame = pl.DataFrame(schema=EMPTY_INTERACTIONS)
        if image_field == "image_hi_res":
            candidates = candidates.with_columns(pl.coalesce("image_hi_res", "image_large").alias("image_url"))
    else:
        raise ValueError(f"unknown selection strategy {strategy!r}; known: ['kcore', 'authors_code']")
    for name, value in counts.items():
        log.info("%s: %s", name, value)
    write_parquet(candidates, candidates_out)
    write_parquet(frame, interactions_out)
    report = {"strategy": strategy, "text_field": selection["text_field"], "counts": counts}
    write_json(report_out, report)
    return report


def fetch_category_images(candidates_path, folder, root, manifest_out, failures_out, fetch: dict) -> pl.DataFrame:
    """Fetch every candidate's cover into ``folder`` (``fetch``: :func:`fetch_settings` of the config);
    write the manifest (paths relative to ``root``) and the list of failures with their reasons."""
    candidates = pl.read_parquet(candidates_path, columns=["parent_asin", "image_url"])
    manifest = fetch_images(candidates, folder, **fetch)
    manifest = relative_image_paths(manifest, root)
    write_parquet(manifest, manifest_out)
    with atomic_path(failures_out) as tmp:
        manifest.filter(~pl.col("ok")).select("parent_asin", "image_url", "reason").write_csv(tmp)
    return manifest


def build_rec_set(
    selection: dict, interactions_path, selection_interactions_path, candidates_path, images_path,
    interactions_out, items_out, report_out,
) -> dict:
    """Step 2 of the selection: drop items without an image and build the final recommendation set."""
    images = pl.read_parquet(images_path)
    frame, items, counts = finalize_rec_set(
        selection["strategy"],
        pl.scan_parquet(interactions_path),
        pl.read_parquet(candidates_path),
        images,
        k=selection["kcore"].get("k", 5),
        kcore_interactions=pl.read_parquet(selection_interactions_path),
        min_user_interactions=selection["authors_code"].get("min_user_interactions", 8),
    )
    for name, value in counts.items():
        log.info("%s: %s", name, value)
    write_parquet(frame, interactions_out)
    write_parquet(items, items_out)
    report = {
        "selection": selection["strategy"],
        "text_field": selection["text_field"],
        "counts": counts,
        "dropped_items_without_image": images.filter(~pl.col("ok")).select("parent_asin", "reason").rows(named=True),
    }
    write_json(report_out, report)
    return report


def sample_category_items(items_path, out_path, n: int, seed: int, exclude_path=None) -> pl.DataFrame:
    items = pl.read_parquet(items_path)
    exclude = pl.read_parquet(exclude_path, columns=["parent_asin"]) if exclude_path else None
    sample = sample_items(items, n, seed, exclude)
    log.info("sampled %d of %d items (seed %d)", sample.height, items.height, seed)
    write_parquet(sample, out_path)
    return sample


def sample_grpo_pool(
    *, catalogue_path, rec_items_path, text_field: str, url_field: str, n: int, seed: int, folder, root,
    out_path, failures_out, fetch: dict,
) -> pl.DataFrame:
    """The GRPO training pool of one category: ``n`` items drawn (seeded) from the category's eligible
    items — the configured text and a cover URL — **outside the rec item set**, so no GRPO item is
    ever scored by CQBench (a subset of the rec set) or RecBench; their covers fetched into ``folder``
    (the rec items' folder: one file per item) with the image fetcher. An item whose cover cannot be
    fetched is listed with its reason and replaced by the next item of the same seeded permutation
    (the first ``n`` of it are exactly :func:`sample_items`' draw). Writes the pool (``parent_asin, text,
    image_path`` relative to ``root``) and the failures; fewer usable items than ``n``: all of them
    (Table 1 shows the count)."""
    catalogue = pl.read_parquet(catalogue_path)
    rec = pl.read_parquet(rec_items_path, columns=["parent_asin"])
    eligible = eligible_items(catalogue, text_field, 1, IMAGE_FIELDS[url_field]).unique("parent_asin", keep="first")
    candidates = eligible.join(rec, on="parent_asin", how="anti").select("parent_asin", "text", "image_url")
    candidates = candidates.sort("parent_asin")
    order = np.random.default_rng(seed).permutation(candidates.height)
    fetched, drawn, usable = [], 0, 0
    while drawn < candidates.height and usable < n:
        batch = candidates[np.sort(order[drawn : drawn + n - usable])]
        drawn += batch.height
        fetched.append(relative_image_paths(fetch_images(batch, folder, **fetch), root))
        usable += fetched[-1]["ok"].sum()
    manifest = pl.concat(fetched) if fetched else pl.DataFrame(
        schema={"parent_asin": pl.String, "image_url": pl.String, "ok": pl.Boolean, "reason": pl.String,
                "image_path": pl.String})
    pool = candidates.join(manifest.filter(pl.col("ok")).select("parent_asin", "image_path"), on="parent_asin")
    pool = pool.select("parent_asin", "text", "image_path").sort("parent_asin")
    write_parquet(pool, out_path)
    with atomic_path(failures_out) as tmp:
        manifest.filter(~pl.col("ok")).select("parent_asin", "image_url", "reason").sort("parent_asin").write_csv(tmp)
    if pool.height < n:
        log.warning("GRPO pool: %d items asked for, %d usable outside the rec set: taking all of them", n, pool.height)
    log.info("GRPO pool: %d eligible items outside the %d rec items; %d drawn, %d with a cover, %d failed",
             candidates.height, rec.height, drawn, pool.height, drawn - pool.height)
    return pool


def split_category(
    interactions_path, split_out, inter_out, users_out, items_out, report_out, order="chronological", seed=0
) -> dict:
    table, counts = rec_split(pl.read_parquet(interactions_path), order=order, seed=seed)
    for name, value in counts.items():
        log.info("%s: %s", name, value)
    write_parquet(table, split_out)
    write_mmrec(table, inter_out, users_out, items_out)
    report = {"order": order, "seed": seed, "counts": counts}
    write_json(report_out, report)
    return report


__all__ = [
    "build_rec_set", "fetch_category_images", "sample_category_items", "select_candidates", "split_category",
]
