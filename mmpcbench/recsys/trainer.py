"""One trainer for every recommender: MMRec's loop, early stopping and reporting, vectorised.

Per epoch: the recommender's ``pre_epoch`` (seeded), a seeded shuffle of the train pairs, one uniform
negative per pair (``NegativeSampler``) for models that use negatives, batches of ``batch_size``, Adam
(torch's fused implementation: the same update as MMRec's default Adam in one pass over each
parameter — BM3 and FREEDOM train the raw 4,096-d feature tables, where the default spends half the
epoch).
After every ``eval_step`` epochs the validation set is ranked; an epoch improves only if its
validation ``valid_metric`` is strictly greater; training stops after ``patience + 1`` epochs without
improvement (MMRec's ``cur_step > stopping_step``) or at ``epochs``. Test is ranked only when validation
improves, which gives exactly MMRec's reported "test at the best validation epoch" without ranking test
every epoch. ``metric_digits`` (None by default; 4 in the MMRec-faithful mode, ``recbench.select_on:
test``) rounds every metric as MMRec's evaluator does, *before* the early-stopping comparison: an epoch
that improves only in the fifth decimal is then no improvement, as in MMRec. A non-finite loss stops the run with an error, as MMRec. On CPU, deterministic algorithms
are switched on (the gradient of a batch that repeats an item is otherwise summed in thread order), so
a rerun is bit-identical.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from mmpcbench.recsys.base import Recommender
from mmpcbench.recsys.data import NegativeSampler, RecData
from mmpcbench.recsys.evaluate import evaluate

log = logging.getLogger(__name__)

TRAIN_DEFAULTS = {"learning_rate": 1e-3, "weight_decay": 0.0, "batch_size": 2048, "epochs": 1000, "patience": 20,
                  "eval_step": 1, "valid_metric": "recall@20", "topk": [5, 10, 20, 50], "eval_batch_size": 4096,
                  "metric_digits": None}


def rounded(metrics: dict, digits: int | None) -> dict:
    """``metrics`` with every value rounded to ``digits`` decimals (MMRec's ``round(value, 4)``); None: as is."""
    return metrics if digits is None else {k: round(v, digits) for k, v in metrics.items()}


def train(model: Recommender, data: RecData, settings: dict, seed: int, device: str = "cpu") -> dict:
    """Train ``model`` (already built under ``torch.manual_seed(seed)``) and return the run record:
    best epoch, validation and test metrics there, epochs run, per-epoch loss/validation history, times."""
    previous = torch.are_deterministic_algorithms_enabled()
    if device == "cpu":  # scatter-add of repeated items in a batch is otherwise summed in thread order
        torch.use_deterministic_algorithms(True)
    try:
        return _train(model, data, {**TRAIN_DEFAULTS, **settings}, seed, device)
    finally:
        torch.use_deterministic_algorithms(previous)


def _train(model: Recommender, data: RecData, settings: dict, seed: int, device: str) -> dict:
    rng, generator = np.random.default_rng(seed), torch.Generator(device=device).manual_seed(seed)
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings["learning_rate"], weight_decay=settings["weight_decay"],
                                 fused=True)
    sampler = NegativeSampler(data) if model.uses_negatives else None
    users_all = torch.as_tensor(data.train_users)
    items_all = torch.as_tensor(data.train_items)
    ks, metric = tuple(settings["topk"]), settings["valid_metric"]
    best, best_epoch, best_valid, best_test, stale = -np.inf, -1, None, None, 0
    history, train_seconds, eval_seconds = [], 0.0, 0.0
    epoch = 0
    for epoch in range(1, settings["epochs"] + 1):
        started = time.perf_counter()
        model.train()
        model.pre_epoch(generator)
        order = torch.as_tensor(rng.permutation(data.n_train))
        negatives = torch.as_tensor(sampler.sample(data.train_users[order.numpy()], rng)) if sampler else None
        total = 0.0
        for start in range(0, data.n_train, settings["batch_size"]):
            index = order[start : start + settings["batch_size"]]
            users, positives = users_all[index].to(device), items_all[index].to(device)
            batch_neg = negatives[start : start + settings["batch_size"]].to(device) if sampler else None
            loss = model.loss(users, positives, batch_neg)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss is {loss.item()} at epoch {epoch} (seed {seed})")
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        train_seconds += time.perf_counter() - started
        record = {"epoch": epoch, "loss": total}
        if epoch % settings["eval_step"] == 0:
            started = time.perf_counter()
            model.eval()
            with torch.no_grad():
                scorer = model.scorer()
                digits = settings["metric_digits"]
                valid = rounded(evaluate(scorer, data, "valid", ks, settings["eval_batch_size"], device), digits)
                record["valid"] = valid[metric]
                if valid[metric] > best:
                    best, best_epoch, best_valid, stale = valid[metric], epoch, valid, 0
                    best_test = rounded(evaluate(scorer, data, "test", ks, settings["eval_batch_size"], device), digits)
                else:
                    stale += 1
            eval_seconds += time.perf_counter() - started
        history.append(record)
        if stale > settings["patience"]:
            break
    log.info("seed %d: best %s %.4f at epoch %d of %d", seed, metric, best, best_epoch, epoch)
    return {"seed": seed, "best_epoch": best_epoch, "epochs_run": epoch, "valid": best_valid, "test": best_test,
            "history": history, "train_seconds": train_seconds, "eval_seconds": eval_seconds}
