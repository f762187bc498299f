"""The GRPO stage as a file-to-file function: what rule ``grpo_train`` calls."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from mmpcbench.grpo.schedule import for_task
from mmpcbench.grpo.train import GRPOData, build_rewards, train_grpo_at, train_grpo_runs

log = logging.getLogger(__name__)

SETTING_KEYS = ("num_generations", "prompts_per_step", "passes", "save_steps", "seed", "heldout_share", "lora",
                "evaluation", "plateau", "rewards", "trainer", "device")


def job_settings(grpo: dict) -> dict:
    """What a ``grpo_train`` job uses of the config's ``grpo`` section — the one place that filters it
    (not its resources, tasks or base: a new time limit or another task retrains nothing):
    ``learning_rates`` and the training ``settings``."""
    return {"learning_rates": grpo["learning_rates"], "settings": {key: grpo[key] for key in SETTING_KEYS if key in grpo}}


def train_task(*, task: str, entry: dict, request: dict, grpo: dict, reward_models: dict, pool_paths: list, data_root,
               out_dir, learning_rate: float | None = None) -> dict:
    """Train the adapters of one task (``request``: the ``complete`` stage's prompt and answer key of the
    task, :func:`mmpcbench.completion.pipeline.task_request`) on the GRPO pools of every category
    (``grpo``: :func:`job_settings`): at ``learning_rate`` alone, into ``<out_dir>/lr_<lr>/`` (one job
    of the grid; :func:`mmpcbench.grpo.train.choose_grpo_run` then keeps the best), or, when it is None,
    one run per learning rate and the best on the held-out tenth kept. ``reward_models``:
    I→T ``encoders`` (``text``); T→I ``diffusion``, ``clip`` and ``image_options``; they run on the
    training device (``grpo.device``)."""
    pool = pl.concat([pl.read_parquet(path, columns=["parent_asin", "text", "image_path"]) for path in pool_paths])
    settings = for_task(grpo["settings"], task)
    device = settings["device"]
    encoders = {name: {**spec, "device": device} for name, spec in reward_models.get("encoders", {}).items()}
    clip = {**reward_models["clip"], "device": device} if "clip" in reward_models else {}
    rewards = build_rewards(task, request["answer_key"], settings.get("rewards", {}), encoders,
                            reward_models.get("diffusion", {}), clip, reward_models.get("image_options"),
                            settings["seed"])
    log.info("GRPO %s on %s: %d pool items from %d categories, learning rates %s", task, entry.get("model"),
             pool.height, len(pool_paths), grpo["learning_rates"])
    data = GRPOData(task, entry, request["prompt"], request["answer_key"], pool, data_root)
    if learning_rate is not None:
        return train_grpo_at(data, Path(out_dir), learning_rate, settings, rewards)
    return train_grpo_runs(data, Path(out_dir), grpo["learning_rates"], settings, rewards)
