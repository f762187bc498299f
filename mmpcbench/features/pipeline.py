"""The feature stages as file-to-file functions: what the workflow rules call.

- ``embed_completion``: the features of one completion method's output for every rec item
  (``parent_asin, embedding, status``). A completion *borrowed* from another item (the controls and the
  retrieval baseline write a ``source_asin``) is that item's very text or image bytes, so it gets that
  item's ground-truth embedding without re-encoding (same bytes, same encoder); anything else — an MLLM's
  text or painted image, the empty text, the grey image — is encoded with the configured encoder.
  ``status``: ``borrowed``, ``encoded``, or ``missing`` (no text, no image painted, an unreadable image).
  Image features are stored raw, as the ground truth's (``embed_items``).
- ``write_features``: one variant's ``text_feat.npy`` / ``image_feat.npy`` per missing rate, in itemID
  order (MMRec's files), and ``features.json`` (counts, shapes, a hash of every file). Only the
  configured ``modalities`` are written (a text-only or image-only RecBench); ``image_normalise``
  (``recbench.features.image_normalise``) L2-normalises every image row — the ground truth's and the
  completion's — before the variant is built; false (the paper config) keeps the image encoder's raw
  vectors, as the authors fed the raw ViT CLS token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.cost import count
from mmpcbench.encoders import l2_normalise
from mmpcbench.families import IMPUTATIONS, TASKS

SOURCE_COLUMN = {"text": "text", "image": "image_path"}  # where a completion table holds each modality
from mmpcbench.features.build import aligned, parse_variant, variant_features
from mmpcbench.io import atomic_path, sha256_file, write_json, write_parquet

log = logging.getLogger(__name__)


def rate_folder(rate: float) -> str:
    return f"rate_{float(rate)}"


def _frame(asins, vectors: list, statuses: list[str], dim: int) -> pl.DataFrame:
    return pl.DataFrame({
        "parent_asin": pl.Series(asins, dtype=pl.String),
        "embedding": pl.Series([None if v is None else np.asarray(v, np.float32).tolist() for v in vectors],
                               dtype=pl.List(pl.Float32)).cast(pl.Array(pl.Float32, dim)),
        "status": pl.Series(statuses, dtype=pl.String),
    })


def embed_completion(task: str, completion_path, truth_path, spec: dict, results_root, out_path) -> pl.DataFrame:
    """Features of one method's completions (I→T: ``completions/…parquet``; T→I: the images' manifest)."""
    from PIL import Image

    from mmpcbench.encoders import ImageFeatures, encode_pil_images, encode_texts
    from mmpcbench.models import shared

    truth = pl.read_parquet(truth_path)
    dim = truth.schema["embedding"].shape[0]
    lookup = dict(zip(truth["parent_asin"], truth["embedding"].to_numpy()))
    frame = pl.read_parquet(completion_path)
    if "source_asin" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("source_asin"))
    frame = frame.sort("parent_asin")
    vectors: list = [None] * frame.height
    statuses = ["missing"] * frame.height
    to_encode = []
    for row, item in enumerate(frame.iter_rows(named=True)):
        source = item["source_asin"]
        if source is not None and source in lookup:
            vectors[row], statuses[row] = lookup[source], "borrowed"
        elif item.get(SOURCE_COLUMN[TASKS[task].completes]) is not None:
            to_encode.append(row)
    if to_encode and TASKS[task].completes == "text":
        matrix = encode_texts([frame["text"][row] for row in to_encode], spec)
        for row, vector in zip(to_encode, matrix):
            vectors[row], statuses[row] = vector, "encoded"
    elif to_encode:
        encoder = shared(ImageFeatures, spec)
        batch = spec.get("batch_size", 64)
        for start in range(0, len(to_encode), batch):
            rows, images = [], []
            for row in to_encode[start : start + batch]:
                try:
                    with Image.open(Path(results_root) / frame["image_path"][row]) as image:
                        images.append(image.convert("RGB"))
                    rows.append(row)
                except OSError as error:
                    log.warning("%s: unreadable image (%s): counted as missing", frame["parent_asin"][row], error)
            if images:
                for row, vector in zip(rows, encode_pil_images(images, spec, encoder, normalise=False)):
                    vectors[row], statuses[row] = vector, "encoded"
    out = _frame(frame["parent_asin"], vectors, statuses, dim)
    write_parquet(out, out_path)
    count(items=len(to_encode))
    counts = out.group_by("status").len().sort("status")
    log.info("%s completion features: %s", task, dict(zip(counts["status"], counts["len"])))
    return out


def _truth_features(item_ids: pl.DataFrame, paths: dict, modalities, image_normalise: bool) -> dict[str, np.ndarray]:
    """The items' own embeddings of each of ``modalities`` in itemID order (every item must have one);
    image rows L2-normalised when ``image_normalise``."""
    truth = {}
    for modality, path in paths.items():
        if modality not in modalities:
            continue
        truth[modality], available = aligned(pl.read_parquet(path), item_ids, f"{modality} embeddings")
        if not available.all():
            raise ValueError(f"{modality} ground-truth embeddings: {(~available).sum()} items have none")
    if image_normalise and "image" in truth:
        truth["image"] = l2_normalise(truth["image"])
    return truth


def _completion_features(variant: str, item_ids: pl.DataFrame, completion_path, normalise: bool):
    """(matrix, available) of a completion method's embeddings in itemID order (rows L2-normalised when
    ``normalise``), and how many items had each completion status."""
    frame = pl.read_parquet(completion_path)
    completion = aligned(frame.select("parent_asin", "embedding"), item_ids, f"{variant} features")
    if normalise:
        completion = (l2_normalise(completion[0]), completion[1])
    joined = item_ids.join(frame, left_on="original_id", right_on="parent_asin", how="left")
    return completion, dict(joined.group_by("status").len().sort("status").iter_rows())


def _training_pairs(inter_path, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The training split's (users, items) of a ``.inter`` file (MMRec's ``x_label`` 0)."""
    if inter_path is None:
        raise ValueError("this imputation needs the category's interactions (inter_path)")
    train = pl.read_csv(inter_path, separator="\t", columns=["userID", "itemID", "x_label"]).filter(
        pl.col("x_label") == 0)
    items = train["itemID"].to_numpy()
    if len(items) and not 0 <= items.min() <= items.max() < n_items:
        raise ValueError(f"{inter_path}: itemIDs outside 0..{n_items - 1} (the item map's range)")
    return train["userID"].to_numpy(), items


def _write_matrix(path: Path, matrix: np.ndarray) -> dict:
    """``matrix`` as float32 ``.npy`` at ``path`` (atomically); its shape and hash for the manifest."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(matrix, dtype=np.float32))
    return {"shape": list(matrix.shape), "sha256": sha256_file(path)[:16]}


@dataclass(frozen=True)
class FeaturePlan:
    """How every variant's features are made (the config's ``recbench`` section): the missing ``rates``,
    the mask ``seed`` (``mask_seed``), what a masked item without a completion gets
    (``missing_completion``), whether image rows are L2-normalised (``features.image_normalise``) and
    which ``modalities`` the recommenders see (``features.modalities``), and the settings of the
    imputation the variant runs (its entry of ``imputation_settings``)."""

    rates: list[float]
    seed: int
    missing_completion: str
    image_normalise: bool
    modalities: tuple[str, ...]
    imputation_settings: dict = field(default_factory=dict)


def write_features(*, variant: str, item_map_path, text_path, image_path, completion_path, out_dir, manifest_path,
                   plan: FeaturePlan, inter_path=None) -> dict:
    """Write one variant's features for every rate of ``plan`` under ``out_dir/rate_<r>/`` and its
    manifest (only ``plan.modalities``; image rows L2-normalised when ``plan.image_normalise``).
    ``inter_path``: the category's ``.inter`` file, read for an imputation that uses the training
    interactions."""
    rates, seed, missing_completion = plan.rates, plan.seed, plan.missing_completion
    image_normalise, modalities = plan.image_normalise, tuple(plan.modalities)
    unknown = [m for m in modalities if m not in ("text", "image")]
    if unknown or not modalities:
        raise ValueError(f"feature modalities must be a non-empty subset of ['text', 'image'], not {list(modalities)}")
    task, method = parse_variant(variant)
    if task is not None and TASKS[task].completes not in modalities:
        raise ValueError(f"variant {variant!r} replaces the {TASKS[task].completes} features, which are not among the "
                         f"configured modalities {list(modalities)}")
    item_ids = pl.read_csv(item_map_path, schema_overrides={"original_id": pl.String})
    truth = _truth_features(item_ids, {"text": text_path, "image": image_path}, modalities, image_normalise)
    completion, status_counts = None, {}
    if task is not None and method not in IMPUTATIONS:
        completion, status_counts = _completion_features(variant, item_ids, completion_path,
                                                         image_normalise and TASKS[task].completes == "image")
    imputation = None
    if task is not None and method in IMPUTATIONS:
        imputation = {"settings": plan.imputation_settings, "interactions": _training_pairs(inter_path, item_ids.height)
                      if IMPUTATIONS[method].uses_interactions else None}
    built = variant_features(variant, truth, rates, seed, completion, missing_completion, imputation)
    record = {"variant": variant, "task": task, "method": method, "n_items": item_ids.height, "seed": seed,
              "missing_completion_policy": missing_completion, "completion_status": status_counts,
              "modalities": list(truth), "image_normalise": bool(image_normalise), "rates": {}}
    for rate, feats in built.items():
        files = {modality: _write_matrix(Path(out_dir) / rate_folder(rate) / f"{modality}_feat.npy", feats[modality])
                 for modality in truth}
        record["rates"][str(float(rate))] = {"masked": feats["masked"], "missing_completion": feats["missing_completion"],
                                            "files": files}
        if feats["missing_completion"]:
            log.warning("%s at rate %s: %d masked items have no completion (policy %s)", variant, rate,
                        feats["missing_completion"], missing_completion)
    write_json(manifest_path, record)
    return record
