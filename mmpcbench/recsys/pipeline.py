"""RecBench training as a file-to-file function: one category × variant, every recommender, every
missing rate, every seed (and every grid point, if a grid is configured).

Hyper-parameters: ``params`` over the model's MMRec defaults; an optional ``grid`` (key → list of
values) is searched and one point kept, by ``select_on``: ``valid`` (ours, the paper config) keeps the
best **validation** metric (mean over seeds); ``test`` reproduces MMRec's reporting (and so the
authors'): the best **test** metric at the best-validation epoch (``quick_start.py``, enoche/MMRec#64),
with every metric rounded to 4 decimals before the early-stopping comparison as MMRec's evaluator does
(``trainer.metric_digits``). The tables say which.

Features: ``text_feat.npy`` and ``image_feat.npy`` of the rate's folder; a file that is absent is a
modality the run does not use (None: the models take one modality alone, as MMRec), at least one. The result keeps every seed's validation and test metrics at its
best-validation epoch, their mean and std (ddof 0 over seeds), the training curve, the grid, times, the
data counts, a popularity ranking's metrics as a reference, and FREEDOM's item-graph hash.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch

from mmpcbench.cost import count
from mmpcbench.features.pipeline import rate_folder
from mmpcbench.io import provenance, write_json
from mmpcbench.recsys import build, defaults
from mmpcbench.recsys.data import load_inter
from mmpcbench.recsys.evaluate import evaluate
from mmpcbench.recsys.popularity import popularity_scorer
from mmpcbench.recsys.trainer import TRAIN_DEFAULTS, train

log = logging.getLogger(__name__)


def grid_points(params: dict, grid: dict) -> list[dict]:
    """Every combination of ``grid`` (key → list) over ``params``; one point if the grid is empty."""
    keys = sorted(grid)
    for key in keys:
        if not isinstance(grid[key], list) or not grid[key]:
            raise ValueError(f"grid key {key!r} must map to a non-empty list of values")
    return [{**params, **dict(zip(keys, values))} for values in itertools.product(*(grid[k] for k in keys))]


def summarise(runs: list[dict], split: str) -> tuple[dict, dict]:
    keys = runs[0][split].keys()
    values = {k: np.array([run[split][k] for run in runs]) for k in keys}
    return ({k: float(v.mean()) for k, v in values.items()}, {k: float(v.std()) for k, v in values.items()})


SELECT_ON = ("valid", "test")


def load_features(folder: Path, n_items: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(text, image) feature tensors of one rate's folder; None for a modality whose file is absent."""
    paths = {modality: Path(folder) / f"{modality}_feat.npy" for modality in ("text", "image")}
    if not any(path.exists() for path in paths.values()):
        raise FileNotFoundError(f"{folder} has neither text_feat.npy nor image_feat.npy")
    out = []
    for modality, path in paths.items():
        if not path.exists():
            out.append(None)
            continue
        matrix = np.load(path)
        if matrix.ndim != 2 or matrix.shape[0] != n_items:
            raise ValueError(f"{folder}/{modality}_feat.npy has shape {matrix.shape}; expected {n_items} rows")
        if not np.isfinite(matrix).all():
            raise ValueError(f"{folder}/{modality}_feat.npy contains NaN or infinity")
        out.append(torch.from_numpy(matrix.astype(np.float32)))
    return out[0], out[1]


def _seed_runs(name, data, text, image, point: dict, seeds, settings: dict, device: str) -> list[dict]:
    """One training run per seed of recommender ``name`` at grid point ``point``."""
    runs = []
    for seed in seeds:
        model = build(name, data, text, image, point, seed)
        run = train(model, data, settings, seed, device)
        count(runs=1)
        if hasattr(model, "item_graph_hash"):
            run["item_graph_hash"] = model.item_graph_hash()
        runs.append(run)
    return runs


def _grid_search(name, data, text, image, points: list[dict], seeds, settings: dict, device: str,
                 select_on: str) -> dict:
    """Every grid point's seed runs on one rate's features; the point kept by ``select_on`` with its
    runs, test and validation means and stds, the all-zero feature rows and the grid's scores."""
    zero_rows = {modality: int((feat.abs().sum(1) == 0).sum()) for modality, feat in (("text", text), ("image", image))
                 if feat is not None}
    searched = []
    for point in points:
        runs = _seed_runs(name, data, text, image, point, seeds, settings, device)
        chosen_mean, _ = summarise(runs, select_on)
        searched.append((chosen_mean[settings["valid_metric"]], point, runs))
    _, point, runs = searched[int(np.argmax([score for score, _, _ in searched]))]
    test_mean, test_std = summarise(runs, "test")
    valid_mean, valid_std = summarise(runs, "valid")
    return {"params": point, "runs": runs, "test_mean": test_mean, "test_std": test_std, "valid_mean": valid_mean,
            "valid_std": valid_std, "zero_feature_rows": zero_rows,
            "grid": [{"params": p, f"{select_on}_mean": s} for s, p, _ in searched]}


@dataclass(frozen=True)
class RecPlan:
    """How every variant is trained (the config's ``recbench`` section): the missing ``rates``, the
    ``recommenders`` (name → ``{params, grid}``), the trainer ``settings`` (``train``), the ``seeds``,
    the ``device`` and the split that picks a grid point (``select_on``)."""

    rates: list[float]
    recommenders: dict
    settings: dict
    seeds: list[int]
    device: str
    select_on: str


def train_variant(*, inter_path, item_map_path, features_dir, out_path, plan: RecPlan) -> dict:
    """Train every recommender of ``plan`` on one variant's features at every rate, for every seed; keep
    one grid point by ``plan.select_on``; write the result JSON."""
    rates, recommenders, settings, seeds = plan.rates, plan.recommenders, plan.settings, plan.seeds
    device, select_on = plan.device, plan.select_on
    started = time.time()
    if select_on not in SELECT_ON:
        raise ValueError(f"unknown select_on {select_on!r}; known: {list(SELECT_ON)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"recbench.device is {device!r} but no CUDA device is visible; use 'cpu'")
    settings = {**TRAIN_DEFAULTS, **settings}
    if select_on == "test":  # MMRec's reporting: its evaluator rounds to 4 decimals
        settings["metric_digits"] = 4
    n_items = pl.read_csv(item_map_path).height
    data = load_inter(inter_path, n_items)
    ks = tuple(settings["topk"])
    popularity = {split: evaluate(popularity_scorer(data), data, split, ks) for split in ("valid", "test")}
    result = {"data": data.counts, "popularity": popularity, "settings": settings, "seeds": list(seeds),
              "select_on": select_on, "recommenders": {}}
    features = {rate: load_features(Path(features_dir) / rate_folder(rate), n_items) for rate in rates}
    manifest = Path(features_dir) / "features.json"
    if manifest.exists():  # how the features were made: the tables' captions say it
        made = json.loads(manifest.read_text())
        result["features"] = {key: made[key] for key in ("modalities", "image_normalise") if key in made}
    for name, spec in recommenders.items():
        points = grid_points({**defaults(name), **spec.get("params", {})}, spec.get("grid", {}))
        by_rate = result["recommenders"][name] = {}
        for rate, (text, image) in features.items():
            entry = by_rate[str(float(rate))] = _grid_search(name, data, text, image, points, seeds, settings, device,
                                                             select_on)
            metric = settings["valid_metric"]
            log.info("%s rate %s: test %s %.4f ± %.4f over %d seeds", name, rate, metric, entry["test_mean"][metric],
                     entry["test_std"][metric], len(seeds))
    result["provenance"] = provenance(started=started, device=device)
    write_json(out_path, result)
    return result
