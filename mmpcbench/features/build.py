"""Item features per variant and missing rate, in MMRec's layout (one row per itemID).

A **variant** is ``original`` (the items' own features) or ``<task>-<method>``: for I→T the items' text
features are replaced, for T→I their image features. ``method`` is a completion method (an MLLM, the retrieval baseline, a
control) or an imputation baseline: ``zeros`` and ``random`` (N(0, 1), the authors' two baselines) and
``mean`` (ours: the mean feature of the items whose modality is not masked; at rate 1.0, where none is
left, the mean over all items), and ``propagation`` (feature propagation over the training
co-interaction graph, Malitesta et al. 2024: defined in :mod:`mmpcbench.features.propagation`).

**Missing rates.** For rate r, ``int(N·r)`` items are masked: the first of one seeded permutation of the
category's items, so the masked sets are nested (0.2 ⊂ 0.5 ⊂ …) and the same for text and image (the
authors drew each rate's set with Python's ``random`` over a ``set``, whose order depends on the hash
seed: not reproducible). Only masked items are replaced.

**A masked item without a completion** (an unparsed answer under ``failure_policy: excluded``, no image
painted, an unreadable image) is never silently given its ground truth as in the authors' code; it is
counted, and ``missing_completion`` says what it gets: ``mean`` (the ``mean`` imputation, the default),
``zeros``, or ``ground_truth`` (the authors' behaviour, a leak, for reproduction only).
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

from mmpcbench.families import IMPUTATIONS, TASKS, resolve
from mmpcbench.seeds import derive_seed

log = logging.getLogger(__name__)

MISSING_POLICIES = ("mean", "zeros", "ground_truth")
ORIGINAL = "original"  # the variant of the items' own features (``ground_truth`` is a completion control)


class FeatureError(ValueError):
    """Features do not match the items they describe; the message says how."""


def parse_variant(variant: str) -> tuple[str | None, str | None]:
    """``original`` → (None, None); ``i2t-<method>`` → ("i2t", method)."""
    if variant == ORIGINAL:
        return None, None
    task, sep, method = variant.partition("-")
    if not sep or task not in TASKS or not method:
        raise FeatureError(f"variant {variant!r} is neither 'original' nor '<{'|'.join(TASKS)}>-<method>'")
    return task, method


def aligned(frame: pl.DataFrame, item_ids: pl.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(matrix in itemID order, row-available mask) from ``parent_asin, embedding`` rows; ``item_ids`` has
    ``original_id, new_id`` (MMRec's ``i_id_mapping.csv``). Every item must have a row (it may be null)."""
    if frame["parent_asin"].n_unique() != frame.height:
        raise FeatureError(f"{what}: duplicate parent_asin rows")
    joined = item_ids.sort("new_id").join(frame, left_on="original_id", right_on="parent_asin", how="left",
                                          maintain_order="left")
    absent = joined.filter(pl.col("embedding").is_null() & ~pl.col("original_id").is_in(frame["parent_asin"].implode()))
    if absent.height:
        raise FeatureError(
            f"{what}: {absent.height} of {item_ids.height} items have no row (e.g. {absent['original_id'][:3].to_list()}); "
            "the features must cover every item of the split"
        )
    if joined["new_id"].to_list() != list(range(item_ids.height)):
        raise FeatureError(f"{what}: item ids are not 0..{item_ids.height - 1}")
    available = joined["embedding"].is_not_null().to_numpy()
    dim = frame.schema["embedding"].shape[0]
    matrix = np.zeros((joined.height, dim), dtype=np.float32)
    if available.any():
        matrix[available] = np.stack(joined.filter(pl.col("embedding").is_not_null())["embedding"].to_numpy())
    bad = available & ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise FeatureError(f"{what}: {int(bad.sum())} feature rows contain NaN or infinity")
    return matrix, available


def mask_for(n_items: int, rate: float, seed: int) -> np.ndarray:
    """The masked items at ``rate``: the first ``int(n·rate)`` of one seeded permutation (nested sets)."""
    if not 0.0 <= rate <= 1.0:
        raise FeatureError(f"missing rate {rate} is outside [0, 1]")
    order = np.random.default_rng(seed).permutation(n_items)
    mask = np.zeros(n_items, dtype=bool)
    mask[order[: int(n_items * rate)]] = True
    return mask


def _mean_vector(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    kept = truth[~mask] if (~mask).any() else truth
    return kept.mean(axis=0)


def impute_zeros(truth: np.ndarray, mask: np.ndarray, seed: int, rate: float) -> np.ndarray:
    """The ``zeros`` imputation (the authors'): a zero row for every masked item."""
    return np.zeros((int(mask.sum()), truth.shape[1]), dtype=np.float32)


def impute_random(truth: np.ndarray, mask: np.ndarray, seed: int, rate: float) -> np.ndarray:
    """The ``random`` imputation (the authors'): N(0, 1) rows, seeded per rate."""
    rng = np.random.default_rng(derive_seed(seed, "random", rate))
    return rng.standard_normal((int(mask.sum()), truth.shape[1])).astype(np.float32)


def impute_mean(truth: np.ndarray, mask: np.ndarray, seed: int, rate: float) -> np.ndarray:
    """The ``mean`` imputation (ours): the mean row of the unmasked items (of all items at rate 1.0)."""
    return np.tile(_mean_vector(truth, mask), (int(mask.sum()), 1)).astype(np.float32)


def imputed(method: str, truth: np.ndarray, mask: np.ndarray, seed: int, rate: float, settings: dict | None = None,
            interactions: tuple | None = None) -> np.ndarray:
    """The rows the imputation baseline ``method`` (``families.IMPUTATIONS``) gives the masked items, with
    its ``settings`` and, if it uses them, the training ``interactions`` (users, items)."""
    member, extra = IMPUTATIONS[method], dict(settings or {})
    if member.uses_interactions:
        if interactions is None:
            raise FeatureError(f"the imputation {method!r} needs the training interactions")
        extra["interactions"] = interactions
    return resolve(member.rows)(truth, mask, seed, rate, **extra)


def replaced(truth: np.ndarray, mask: np.ndarray, completion: np.ndarray, available: np.ndarray,
             missing_completion: str) -> tuple[np.ndarray, int]:
    """``truth`` with the masked rows replaced by ``completion``; (features, masked items without one)."""
    if missing_completion not in MISSING_POLICIES:
        raise FeatureError(f"unknown missing_completion {missing_completion!r}; known: {list(MISSING_POLICIES)}")
    out = truth.copy()
    use = mask & available
    out[use] = completion[use]
    lacking = mask & ~available
    if lacking.any():
        if missing_completion == "mean":
            out[lacking] = _mean_vector(truth, mask)
        elif missing_completion == "zeros":
            out[lacking] = 0.0
        # ground_truth: keep the original rows (the authors' leak)
    return out, int(lacking.sum())


def variant_features(variant: str, truth: dict[str, np.ndarray], rates: list[float], seed: int,
                     completion: tuple[np.ndarray, np.ndarray] | None = None,
                     missing_completion: str = "mean", imputation: dict | None = None) -> dict[float, dict]:
    """For each rate: ``{"text": …, "image": …, "masked": n, "missing_completion": n}`` (the modalities of
    ``truth``). ``truth``: the ground-truth ``text`` and/or ``image`` matrices (itemID order); ``completion``: (matrix,
    available) of the completion method's features of the replaced modality (None for an imputation);
    ``imputation``: an imputation's ``settings`` and ``interactions`` (:func:`imputed`)."""
    task, method = parse_variant(variant)
    n_items = len(next(iter(truth.values())))
    out = {}
    for rate in ([0.0] if task is None else rates):
        feats = {**truth, "masked": 0, "missing_completion": 0}
        if task is not None:
            modality = TASKS[task].completes
            mask = mask_for(n_items, rate, seed)
            if method in IMPUTATIONS:
                rows = truth[modality].copy()
                rows[mask] = imputed(method, truth[modality], mask, seed, rate, **(imputation or {}))
                lacking = 0
            else:
                if completion is None:
                    raise FeatureError(f"variant {variant!r} needs the completion's features")
                rows, lacking = replaced(truth[modality], mask, completion[0], completion[1], missing_completion)
            feats.update({modality: rows, "masked": int(mask.sum()), "missing_completion": lacking})
        out[rate] = feats
    return out
