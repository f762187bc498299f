"""GRPO's schedule in the paper's terms: how many items' groups one optimiser step learns from, and how
long a run is in passes over the training items — translated into TRL's batch settings.

TRL's ``GRPOTrainer`` (one process) generates ``per_device_train_batch_size × gradient_accumulation_steps``
completions — whole groups of ``num_generations`` — and takes one optimiser step over them. So

- ``prompts_per_step`` P sets ``gradient_accumulation_steps = P × num_generations /
  per_device_train_batch_size`` (the micro-batch, and so the memory, stays the configured one);
- ``passes`` E sets ``max_steps = ceil(E × training items / P)``;

and without them, a step learns from ``per_device_train_batch_size × gradient_accumulation_steps /
num_generations`` prompts and ``trainer.max_steps`` is the length. Kept free of heavy imports: the config
check (:mod:`mmpcbench.config`) and the training stage share it.
"""

from __future__ import annotations

import math

# what prompts_per_step sets, and so may not be set beside it
BATCH_KEYS = ("gradient_accumulation_steps", "steps_per_generation", "generation_batch_size")


class ScheduleError(ValueError):
    """The GRPO schedule cannot be met; the message names the settings (relative to ``grpo``)."""


def _group_and_micro_batch(settings: dict) -> tuple[int, int]:
    group = settings.get("num_generations", 16)
    return group, settings.get("trainer", {}).get("per_device_train_batch_size", group)


def _generation_batch(settings: dict) -> int:
    """The completions TRL generates per optimiser step from the ``trainer`` settings alone."""
    trainer = settings.get("trainer", {})
    _, per_device = _group_and_micro_batch(settings)
    return trainer.get("generation_batch_size") or per_device * (
        trainer.get("steps_per_generation") or trainer.get("gradient_accumulation_steps", 1))


def for_task(settings: dict, task: str) -> dict:
    """The settings of one task's run: ``passes`` given per task (``{i2t: 10, t2i: 1}``, every task
    named) resolved to the task's."""
    passes = settings.get("passes")
    if not isinstance(passes, dict):
        return settings
    if task not in passes:
        raise ScheduleError(f"passes is given per task but not for {task!r}: {passes}")
    return {**settings, "passes": passes[task]}


def check_schedule(settings: dict) -> None:
    """Raise :class:`ScheduleError` when the ``grpo`` settings cannot be scheduled: a generation batch that
    is not whole groups (TRL's own rule, which it would raise inside the job), ``prompts_per_step`` beside
    a TRL batch setting or not a whole number of micro-batches, ``passes`` beside ``trainer.max_steps``."""
    trainer = settings.get("trainer", {})
    group, per_device = _group_and_micro_batch(settings)
    prompts = settings.get("prompts_per_step")
    if prompts is not None:
        clash = sorted(set(trainer) & set(BATCH_KEYS))
        if clash:
            raise ScheduleError(f"prompts_per_step sets trainer.gradient_accumulation_steps itself: drop trainer.{clash[0]}")
        if (prompts * group) % per_device:
            raise ScheduleError(f"prompts_per_step × num_generations ({prompts} × {group} completions) is not a whole "
                                f"number of micro-batches of trainer.per_device_train_batch_size ({per_device})")
    else:
        generation_batch = _generation_batch(settings)
        if generation_batch % group:
            raise ScheduleError(f"trainer: a generation batch of {generation_batch} completions "
                                f"(per_device_train_batch_size × gradient_accumulation_steps, or generation_batch_size) "
                                f"is not a multiple of the group size num_generations ({group})")
    if settings.get("passes") is not None and "max_steps" in trainer:
        raise ScheduleError("passes sets trainer.max_steps itself: give one of them")


def prompts_per_step(settings: dict) -> int:
    """The items whose groups one optimiser step learns from."""
    if settings.get("prompts_per_step") is not None:
        return settings["prompts_per_step"]
    group, _ = _group_and_micro_batch(settings)
    return max(1, _generation_batch(settings) // group)


def trainer_schedule(settings: dict, n_train: int) -> dict:
    """The GRPOConfig settings the schedule sets for ``n_train`` training items (see the module
    docstring): ``gradient_accumulation_steps`` with ``prompts_per_step``, ``max_steps`` with ``passes``."""
    check_schedule(settings)
    out = {}
    group, per_device = _group_and_micro_batch(settings)
    if settings.get("prompts_per_step") is not None:
        out["gradient_accumulation_steps"] = settings["prompts_per_step"] * group // per_device
    if settings.get("passes") is not None:
        out["max_steps"] = max(1, math.ceil(settings["passes"] * n_train / prompts_per_step(settings)))
    return out


def planned_steps(settings: dict, n_train: int) -> int:
    """The run's length in optimiser steps (-1: no limit set, TRL's epochs decide)."""
    return trainer_schedule(settings, n_train).get("max_steps", settings.get("trainer", {}).get("max_steps", -1))
