"""CQBench scoring stages as file-to-file functions: what the ``score_text`` / ``score_image`` rules call.

Each scores one method's completions of one category over the CQ sample and writes a per-item Parquet
(``parent_asin, status, <metrics>``) and a JSON summary beside it (counts, encoders, FID, provenance).

``status`` of an item: ``scored``; ``missing`` (no completion: an unparsed answer under the ``excluded``
failure policy, an empty text, no image painted, an unreadable generated file) — then the scoring
policy ``missing_policy`` applies: ``zero`` scores it as an empty output (text: 0 on every metric, the
value the authors' code gave an empty text; image: a uniform grey image of the reference's size, so
MSE and LPIPS get a real, poor value rather than a perfect 0), ``excluded`` leaves it out of the means
(null); ``reference_unreadable`` (the real cover cannot be decoded: excluded, counted);
``reference_empty`` (I→T: nothing of the item's own text is left after the text normaliser: scored
under the ``degenerate`` rule of :mod:`mmpcbench.metrics.text`, counted). Missing items are counted
per method × category and shown beside the means in every table; the summary JSON also records the
text normaliser, the degenerate-pair rule and how many pairs it touched, and the CLIP architecture.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.cost import count
from mmpcbench.io import provenance, write_json, write_parquet
from mmpcbench.families import metrics_completing
from mmpcbench.metrics.image import FidAccumulator, LpipsScorer, encoder_label, image_options, image_scores, read_image
from mmpcbench.metrics.text import BertScorer, normalise_text, text_options, text_scores
from mmpcbench.models import shared

log = logging.getLogger(__name__)

MISSING_POLICIES = ("zero", "excluded")
GREY = (128, 128, 128)


def _check_policy(policy: str) -> None:
    if policy not in MISSING_POLICIES:
        raise ValueError(f"unknown missing_policy {policy!r}; known: {list(MISSING_POLICIES)}")


def _counts(frame: pl.DataFrame, metrics) -> dict:
    counts = {"n_items": frame.height}
    for status in ("scored", "missing", "reference_unreadable", "reference_empty"):
        counts[f"n_{status}"] = int((frame["status"] == status).sum())
    counts["n_nan"] = {m: int(frame[m].is_nan().sum()) for m in metrics}
    return counts


def score_text_file(cq_items_path, completions_path, out_path, summary_path, options: dict,
                    missing_policy: str = "zero", labels: dict | None = None) -> pl.DataFrame:
    """Score one method's I→T completions against the CQ items' texts; write per-item scores + summary."""
    _check_policy(missing_policy)
    started = time.time()
    cq = pl.read_parquet(cq_items_path, columns=["parent_asin", "text"]).sort("parent_asin")
    completions = pl.read_parquet(completions_path, columns=["parent_asin", "text", "parse_status"])
    joined = cq.join(completions.rename({"text": "hypothesis"}), on="parent_asin", how="left")
    options = text_options(options)
    scorer = shared(BertScorer, **options["bertscore"])
    degenerate: dict = {}
    scores = text_scores(joined["text"].to_list(), joined["hypothesis"].to_list(), scorer=scorer, counts=degenerate,
                         **options)
    metrics = scores.columns
    missing = scores[metrics[0]].is_null().to_numpy()  # a missing completion is null in every column
    reference_empty = np.array([not normalise_text(t, options["normaliser"]) for t in joined["text"]], dtype=bool)
    fill = 0.0 if missing_policy == "zero" else None
    scores = scores.with_columns(pl.when(pl.Series(missing)).then(pl.lit(fill, dtype=pl.Float64)).otherwise(pl.col(m)).alias(m)
                                 for m in metrics)
    frame = pl.concat([
        joined.select("parent_asin", pl.col("parse_status").fill_null("no_completion")),
        pl.DataFrame({"status": np.where(missing, "missing", np.where(reference_empty, "reference_empty", "scored"))}),
        scores,
    ], how="horizontal")
    write_parquet(frame, out_path)
    summary = {
        "task": "i2t", **(labels or {}), **_counts(frame, metrics), "missing_policy": missing_policy,
        "encoders": {"bertscore": scorer.model, "tfidf_fit": options["tfidf_fit"]},
        "definitions": {"normaliser": options["normaliser"], "degenerate": options["degenerate"]},
        "n_degenerate": degenerate,
        "provenance": provenance(started=started),
    }
    write_json(summary_path, summary)
    count(items=frame.height)
    log.info("scored %d items: %d missing (%s); degenerate pairs (%s) %s; NaN per metric %s", frame.height,
             summary["n_missing"], missing_policy, options["degenerate"], degenerate, summary["n_nan"])
    return frame


def _open_rgb(path: Path) -> np.ndarray | None:
    try:
        return read_image(path)
    except ValueError as error:
        log.warning("%s", error)
        return None


def _image_pairs(chunk: list[dict], data_root, results_root, missing_policy: str) -> tuple[list, list, list]:
    """The (reference, generated) images of a chunk of joined rows, and each pair's status: an
    unreadable reference is a small black image without a pair; a missing generated image is a grey
    one under the ``zero`` policy, None otherwise."""
    refs, gens, statuses = [], [], []
    for row in chunk:
        ref = _open_rgb(Path(data_root) / row["image_path"])
        gen = _open_rgb(Path(results_root) / row["generated_path"]) if row["generated_path"] else None
        if ref is None:
            status = "reference_unreadable"
            ref, gen = np.zeros((8, 8, 3), np.uint8), None
        elif gen is None:
            status = "missing"
            if missing_policy == "zero":
                gen = np.full_like(ref, GREY[0])
        else:
            status = "scored"
        refs.append(ref)
        gens.append(gen)
        statuses.append(status)
    return refs, gens, statuses


def _update_fid(accumulator: FidAccumulator, refs: list, gens: list, scored: list[bool], features: dict) -> None:
    """Add a chunk's scored pairs to FID: the CLIP-slot features already computed (``features: encoder``)
    or the images themselves (Inception)."""
    if accumulator.features == "encoder":  # the CLIP-slot features of the pairs with a generated image
        present = [g is not None for g in gens]
        rows_scored = np.array([ok for ok, p in zip(scored, present) if p], dtype=bool)
        accumulator.update_features(features["reference"][rows_scored], features["generated"][rows_scored])
    else:
        accumulator.update([r for r, ok in zip(refs, scored) if ok], [g for g, ok in zip(gens, scored) if ok])


def score_image_file(cq_items_path, manifest_path, data_root, results_root, out_path, summary_path, options: dict,
                     missing_policy: str = "zero", labels: dict | None = None, chunk_size: int = 64) -> pl.DataFrame:
    """Score one method's T→I images against the CQ items' covers; write per-item scores + summary (FID
    included). Images are read ``chunk_size`` pairs at a time: memory does not grow with the sample."""
    _check_policy(missing_policy)
    started = time.time()
    options = image_options(options)
    cq = pl.read_parquet(cq_items_path, columns=["parent_asin", "image_path"]).sort("parent_asin")
    manifest = pl.read_parquet(manifest_path, columns=["parent_asin", "image_path", "status"])
    joined = cq.join(manifest.rename({"image_path": "generated_path", "status": "generation_status"}),
                     on="parent_asin", how="left")
    from mmpcbench.encoders import ImageFeatures

    lpips_scorer = shared(LpipsScorer, **options["lpips"])
    encoder = shared(ImageFeatures, options["clip"])
    fid_options = dict(options["fid"])
    accumulator = FidAccumulator(encoder=encoder, **fid_options)
    rows, parts = joined.to_dicts(), []
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start : start + chunk_size]
        refs, gens, statuses = _image_pairs(chunk, data_root, results_root, missing_policy)
        features: dict = {}
        scores = image_scores(refs, gens, lpips_scorer=lpips_scorer, clip_encoder=encoder, keep_features=features,
                              **{k: v for k, v in options.items() if k != "fid"})
        _update_fid(accumulator, refs, gens, [s == "scored" for s in statuses], features)
        parts.append(pl.concat([
            pl.DataFrame({"parent_asin": [r["parent_asin"] for r in chunk],
                          "generation_status": [r["generation_status"] or "no_completion" for r in chunk],
                          "status": statuses}),
            scores,
        ], how="horizontal"))
    metrics = metrics_completing("image")
    frame = pl.concat(parts) if parts else pl.DataFrame(
        schema={"parent_asin": pl.String, "generation_status": pl.String, "status": pl.String,
                **{m: pl.Float64 for m in metrics}})
    write_parquet(frame, out_path)
    value = accumulator.compute()
    summary = {
        "task": "t2i", **(labels or {}), **_counts(frame, metrics), "missing_policy": missing_policy,
        "fid": value, "fid_pairs": accumulator.pairs,
        "encoders": {"clip": encoder_label(options["clip"]), "lpips": lpips_scorer.label, "fid": accumulator.label,
                     "size": options["size"]},
        "clip_architecture": encoder.architecture(),
        "provenance": provenance(started=started),
    }
    write_json(summary_path, summary)
    count(items=frame.height)
    log.info("scored %d items: %d missing (%s), %d unreadable references; FID %s over %d pairs", frame.height,
             summary["n_missing"], missing_policy, summary["n_reference_unreadable"], value, accumulator.pairs)
    return frame


def read_summary(path) -> dict:
    return json.loads(Path(path).read_text())
