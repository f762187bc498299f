"""GRPO training of one MLLM for one task through TRL's own ``GRPOTrainer`` and PEFT LoRA (paper §3.3).

- **Data**: the GRPO pool (``sample_grpo``: items outside the rec set, so never scored by CQBench or
  RecBench). Each item becomes one prompt built by the ``complete`` stage's own template
  (:func:`mmpcbench.completion.mllm.conversation`): I→T shows the cover (column ``image``) and asks for
  the title; T→I gives the text and asks for an image prompt. An item whose cover cannot be read or
  whose text is empty is skipped and counted (``items`` in ``grpo.json``). A seeded tenth of the pool
  (``heldout_share``) is kept out of training: its mean total reward, evaluated every
  ``evaluation.every`` steps (``generations`` completions per item) and once more at the end, judges the
  plateau stop and chooses between runs of several learning rates (never the CQ sample).
- **Model**: the registry's base entry loaded as in inference (:func:`load_mllm`: 4-bit NF4 in the
  paper config, so the adapter is a QLoRA one), with a LoRA adapter (``lora``: rank 16, alpha,
  dropout, target modules, on the language model alone unless ``scope: all``: :func:`lora_targets`).
- **Trainer**: every ``GRPOConfig`` setting comes from ``trainer`` (beta, epsilon, loss_type,
  scale_rewards, temperature, batch sizes, max_steps, ...) over the few this stage fixes (output
  folder, seed, logging every step, checkpoints every ``save_steps``, CPU when no GPU is asked for).
  ``num_generations`` is the group size (16 in the paper).
- **Schedule**: ``prompts_per_step`` (the items whose groups one optimiser step learns from) and
  ``passes`` (over the training items) when given, translated into TRL's gradient accumulation and
  ``max_steps`` by :mod:`mmpcbench.grpo.schedule`; otherwise the ``trainer`` settings as they are.
- **Stop**: ``max_steps``, or the plateau stop on the held-out reward (:class:`PlateauStop`), whichever comes first; the
  reason is recorded.
- **Resume**: checkpoints every ``save_steps`` in ``<out>/checkpoints``, each recorded with its
  checksum in the folder's ledger once saved (:mod:`mmpcbench.units`); a job killed or stopped by a
  time limit resumes from the newest intact one when it runs again (Trainer's own resume). Checkpoints
  of other settings (or of unrecorded ones) are removed, never resumed (:func:`run_stamp`), and so is
  one cut short or damaged (named in the log); a checkpoint that already reached ``max_steps`` gives
  the adapter and the log as they are. A finished run's adapter, reward log and record are reused only
  if recorded with the same stamp and intact.
- **Outputs**: the LoRA adapter (``<out>/adapter``), the reward log (``reward_log.parquet``: per step
  the mean and std of every reward component, the total, KL, loss, grad norm, learning rate, mean
  completion length, the policy's mean token entropy, parse rate) and ``grpo.json`` (settings, steps done, stop reason, items used and
  skipped, provenance).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.families import TASKS
from mmpcbench.grpo.schedule import planned_steps, prompts_per_step, trainer_schedule
from mmpcbench.grpo.rewards import FormatReward, ImageSimilarityReward, TextSimilarityReward, parsed_answers
from mmpcbench.io import atomic_path, provenance, write_json, write_parquet
from mmpcbench.seeds import derive_seed
from mmpcbench.units import Ledger, folder_fingerprint

log = logging.getLogger(__name__)

# what this stage sets itself; everything else of GRPOConfig comes from the ``trainer`` settings
FIXED = ("output_dir", "seed", "logging_steps", "save_steps", "save_strategy", "report_to", "use_cpu", "eval_strategy",
         "eval_steps", "num_generations_eval")
EVALUATION = {"every": 50, "generations": 2}  # grpo.evaluation's defaults
FINISHED = ("adapter", "reward_log.parquet", "grpo.json")  # a run's results, recorded in its ledger
LOG_COLUMNS = {"loss": "loss", "grad_norm": "grad_norm", "learning_rate": "learning_rate", "reward": "reward",
               "reward_std": "reward_std", "kl": "kl", "completions/mean_length": "mean_completion_length",
               "entropy": "entropy", "parse_rate": "parse_rate"}


class GRPOSettingsError(ValueError):
    """A GRPO setting is unknown or inconsistent; the message names it."""


def training_prompt(task: str, prompt: str, text: str | None) -> list[dict]:
    """The ``complete`` stage's conversation for one item, in TRL's multimodal form (the image part
    without the image itself: TRL takes it from the ``image`` column)."""
    from mmpcbench.completion.mllm import conversation

    messages = conversation(task, prompt, text=text, image=None)
    for message in messages:
        message["content"] = [{"type": "image"} if part["type"] == "image" else part for part in message["content"]]
    return messages


def pool_rows(task: str, prompt: str, pool: pl.DataFrame, data_root) -> tuple[list[dict], dict]:
    """One dataset row per usable pool item, and the counts of the skipped ones by reason."""
    from PIL import Image

    rows, skipped = [], {"empty_text": 0, "unreadable_cover": 0}
    for item in pool.sort("parent_asin").iter_rows(named=True):
        text = (item["text"] or "").strip()
        if not text:
            skipped["empty_text"] += 1
            continue
        path = Path(data_root) / item["image_path"] if item["image_path"] else None
        try:
            with Image.open(path) as image:
                cover = image.convert("RGB")
        except (OSError, TypeError, ValueError, Image.DecompressionBombError) as error:
            log.warning("%s: cover cannot be read (%s): skipped", item["parent_asin"], error)
            skipped["unreadable_cover"] += 1
            continue
        shows_image = TASKS[task].given == "image"
        row = {"prompt": training_prompt(task, prompt, None if shows_image else text),
               "parent_asin": item["parent_asin"], "reference_text": text, "cover_path": str(path)}
        if shows_image:
            row["image"] = cover
        rows.append(row)
    return rows, skipped


def split_heldout(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held-out): a seeded ``share`` of the rows (at least one when there are two or more)."""
    n_heldout = min(len(rows) - 1, max(1, round(len(rows) * share))) if share > 0 and len(rows) > 1 else 0
    order = np.random.default_rng(derive_seed(seed, "heldout")).permutation(len(rows))
    heldout = set(order[:n_heldout].tolist())
    return [r for i, r in enumerate(rows) if i not in heldout], [r for i, r in enumerate(rows) if i in heldout]


class ParseRate:
    """A zero-weight reward that only logs the share of answers the project's parser reads (TRL's
    ``log_metric``), so the reward log has the parse rate whatever the reward weights."""

    def __init__(self, answer_key: str):
        self.answer_key = answer_key
        self.__name__ = "parse_rate_probe"

    def __call__(self, prompts=None, completions=None, log_metric=None, **columns) -> list[float]:
        answers = parsed_answers(completions, self.answer_key)
        if log_metric is not None and answers:
            log_metric("parse_rate", sum(a is not None for a in answers) / len(answers))
        return [0.0] * len(answers)


def build_rewards(task: str, answer_key: str, rewards: dict, encoders: dict, diffusion: dict, clip: dict,
                  image_options: dict | None = None, seed: int = 0) -> list:
    """The task's rewards, loaded once: format, similarity, and the parse-rate probe (weight 0)."""
    format_reward = FormatReward(answer_key, rewards.get("format_scale", 1.0))
    if task not in TASKS:
        raise GRPOSettingsError(f"unknown GRPO task {task!r}; known: {list(TASKS)}")
    if TASKS[task].completes == "text":
        similarity = TextSimilarityReward(answer_key, encoders["text"], rewards.get("text_scale", 2.0))
    else:
        similarity = ImageSimilarityReward(answer_key, diffusion, clip, rewards.get("image_scale", 4.0),
                                           rewards.get("n_images", 4), seed, image_options=image_options)
    return [format_reward, similarity, ParseRate(answer_key)]


class PlateauStop:
    """"Until the reward converges", judged on the held-out tenth: stop when the mean total reward on it
    (evaluated every ``evaluation.every`` steps) has not improved on its best by more than ``min_delta``
    for ``patience`` evaluations in a row. A TrainerCallback (built by :func:`plateau_callback`);
    ``stopped_at`` records the step."""

    def __init__(self, patience: int, min_delta: float):
        if patience < 1:
            raise GRPOSettingsError(f"plateau patience must be >= 1, not {patience}")
        self.patience, self.min_delta = patience, min_delta
        self.best, self.stale, self.stopped_at = -math.inf, 0, None

    def update(self, reward: float, step: int) -> bool:
        """Add one evaluation's held-out reward; True when training should stop."""
        if reward > self.best + self.min_delta:
            self.best, self.stale = reward, 0
        else:
            self.stale += 1
        if self.stale >= self.patience:
            self.stopped_at = step
            return True
        return False


def plateau_callback(plateau: PlateauStop):
    from transformers import TrainerCallback

    class Callback(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics and "eval_reward" in metrics and plateau.update(float(metrics["eval_reward"]), state.global_step):
                control.should_training_stop = True

    return Callback()


def grpo_config(trainer: dict, out_dir: Path, seed: int, save_steps: int, device: str, num_generations: int,
                learning_rate: float, evaluation: dict | None = None):
    """TRL's ``GRPOConfig`` from the ``trainer`` settings (unknown keys named) and the fixed ones;
    ``evaluation`` (``every`` N steps, ``generations`` per held-out item): the held-out tenth evaluated
    during training (None: never)."""
    import dataclasses

    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    unknown = sorted(set(trainer) - known)
    if unknown:
        raise GRPOSettingsError(f"unknown GRPO trainer setting(s) {unknown}: not GRPOConfig fields (TRL)")
    fixed = sorted(set(trainer) & set(FIXED))
    if fixed:
        raise GRPOSettingsError(f"GRPO trainer setting(s) {fixed} are set by the stage itself")
    cpu = not device.startswith("cuda")
    per_device = trainer.get("per_device_train_batch_size", num_generations)
    settings = {"bf16": False, "report_to": [], "per_device_eval_batch_size": per_device, **trainer,
                "output_dir": str(out_dir), "seed": seed,
                "logging_steps": 1, "save_strategy": "steps", "save_steps": save_steps, "use_cpu": cpu,
                "num_generations": num_generations, "learning_rate": learning_rate}
    if evaluation:
        k = evaluation["generations"]
        settings.update(eval_strategy="steps", eval_steps=evaluation["every"], num_generations_eval=k,
                        per_device_eval_batch_size=k * max(1, per_device // k))
    return GRPOConfig(**settings)


def reward_log(history: list[dict], reward_names: list[str]) -> pl.DataFrame:
    """One row per logged training step: reward components (mean, std), total, KL, loss, grad norm,
    learning rate, mean completion length, entropy, parse rate, and the mean total reward on the held-out
    tenth at the steps it was evaluated (null where TRL did not log it)."""
    heldout = {int(e["step"]): e["eval_reward"] for e in history if "eval_reward" in e and "step" in e}
    rows = []
    for entry in history:
        if "reward" not in entry or "step" not in entry:
            continue
        row = {"step": int(entry["step"])}
        for name in reward_names:
            row[f"{name}_mean"] = entry.get(f"rewards/{name}/mean")
            row[f"{name}_std"] = entry.get(f"rewards/{name}/std")
        for key, column in LOG_COLUMNS.items():
            row[column] = entry.get(key)
        row["heldout_reward"] = heldout.get(row["step"])
        rows.append(row)
    columns = ["step", *[f"{n}_{s}" for n in reward_names for s in ("mean", "std")], *LOG_COLUMNS.values(),
               "heldout_reward"]
    schema = {c: (pl.Int64 if c == "step" else pl.Float64) for c in columns}
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


@dataclass(frozen=True, eq=False)
class GRPOData:
    """What a GRPO run trains on: the task, the base model's registry entry, the ``complete`` stage's
    prompt and answer key of the task, and the pool (``parent_asin, text, image_path``, covers under
    ``data_root``)."""

    task: str
    entry: dict
    prompt: str
    answer_key: str
    pool: pl.DataFrame
    data_root: str | Path


def train_grpo(data: GRPOData, out_dir, settings: dict, rewards: list, learning_rate: float | None = None,
               callbacks: list | None = None) -> dict:
    """Train one LoRA adapter for ``data.task`` on ``data.pool`` (see the module docstring); write the
    adapter, the reward log and ``grpo.json`` under ``out_dir``; return the record. ``settings``: ``lora`` (r, alpha,
    dropout, target_modules), ``num_generations``, ``learning_rate``, ``save_steps``, ``seed``,
    ``heldout_share``, ``device``, ``plateau`` (window, patience, min_delta; null: off), ``rewards``
    (scales, n_images) and ``trainer`` (GRPOConfig). ``rewards``: the loaded reward callables
    (:func:`build_rewards`); ``callbacks``: more TrainerCallbacks."""
    from datasets import Dataset

    started = time.time()
    task = data.task
    if task not in TASKS:
        raise GRPOSettingsError(f"unknown GRPO task {task!r}; known: {list(TASKS)}")
    out = Path(out_dir)
    lr = learning_rate if learning_rate is not None else settings.get("learning_rate", 1e-5)
    stamp = run_stamp(data, settings, lr)
    checkpoints = Ledger(out / "checkpoints", stamp)  # checkpoints of another stamp are removed, never resumed
    rows, skipped = pool_rows(task, data.prompt, data.pool, data.data_root)
    train_rows, heldout_rows = split_heldout(rows, settings.get("heldout_share", 0.1), settings.get("seed", 0))
    if not train_rows:
        raise ValueError(f"GRPO {task}: no usable pool item (skipped: {skipped})")
    if settings.get("plateau") and not heldout_rows:
        raise GRPOSettingsError("the plateau stop judges the held-out tenth: it needs heldout_share > 0 and at least "
                                "two usable pool items")
    trainer, config, plateau = _trainer(data.entry, settings, rewards, train_rows, heldout_rows, out / "checkpoints", lr,
                                        [*(callbacks or []), checksum_callback(checkpoints)])
    checkpoint = _train_or_keep(trainer, checkpoints, config.max_steps)
    heldout_reward = None
    if heldout_rows:  # the adapter as kept, on the held-out tenth: what chooses between learning rates
        heldout_reward = trainer.evaluate(eval_dataset=Dataset.from_list(heldout_rows)).get("eval_reward")
    names = [getattr(r, "__name__", type(r).__name__) for r in rewards]
    history = reward_log(trainer.state.log_history, [n for n in names if n != "parse_rate_probe"])
    with atomic_path(out / "adapter") as tmp:
        trainer.model.save_pretrained(str(tmp))
    write_parquet(history, out / "reward_log.parquet")
    steps = int(trainer.state.global_step)
    stop = "plateau" if plateau and plateau.stopped_at is not None else "max_steps"
    record = {
        "task": task, "base_model": data.entry.get("model"), "learning_rate": lr, "steps": steps, "stop_reason": stop,
        "max_steps": config.max_steps, "prompts_per_step": prompts_per_step(settings),
        "resumed_from": checkpoint, "items": {"pool": data.pool.height, "train": len(train_rows),
                                              "heldout": len(heldout_rows), "skipped": skipped},
        "heldout": [r["parent_asin"] for r in heldout_rows], "heldout_reward": heldout_reward,
        "settings": {key: value for key, value in settings.items() if key != "trainer"},
        "trainer": {key: getattr(config, key) for key in sorted(settings.get("trainer", {}))},
        "reward_names": names, "provenance": provenance(started=started, device=settings.get("device", "cpu")),
    }
    write_json(out / "grpo.json", record)
    Ledger(out, stamp).record({name: None for name in FINISHED})
    last = history.tail(1).to_dicts()[0] if history.height else {}
    log.info("GRPO %s at lr %g: %d steps (%s), last step reward %s, parse rate %s; %d items trained, %d held out, "
             "skipped %s", task, lr, steps, stop, last.get("reward"), last.get("parse_rate"), len(train_rows),
             len(heldout_rows), skipped)
    return record


def _trainer(entry: dict, settings: dict, rewards: list, train_rows: list, heldout_rows: list, checkpoints: Path,
             lr: float, callbacks: list | None):
    """TRL's ``GRPOTrainer`` over the base model with the LoRA adapter of ``settings``, evaluating the
    held-out rows every ``evaluation.every`` steps (when there are any); its config and the plateau stop
    (None when off)."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOTrainer

    from mmpcbench.completion.mllm import load_mllm

    device = settings.get("device", "cpu")
    schedule = trainer_schedule(settings, len(train_rows))  # prompts_per_step, passes
    evaluation = {**EVALUATION, **(settings.get("evaluation") or {})} if heldout_rows else None
    config = grpo_config({**settings.get("trainer", {}), **schedule}, checkpoints, settings.get("seed", 0),
                         settings.get("save_steps", 50), device, settings.get("num_generations", 16), lr, evaluation)
    if config.reward_weights is None:  # the probe only logs: weight 0; every real reward counts once
        config.reward_weights = [0.0 if isinstance(r, ParseRate) else 1.0 for r in rewards]
    model, processor = load_mllm(entry, device=device)
    _keep_4bit_weights_trainable(model)
    lora = settings["lora"]  # the config's grpo.lora (every key required there)
    peft_config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                             target_modules=lora_targets(model, lora), task_type="CAUSAL_LM")
    plateau = PlateauStop(**settings["plateau"]) if settings.get("plateau") else None
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=config, train_dataset=Dataset.from_list(train_rows),
                          eval_dataset=Dataset.from_list(heldout_rows) if heldout_rows else None,
                          processing_class=processor, peft_config=peft_config,
                          callbacks=[*([plateau_callback(plateau)] if plateau else []), *(callbacks or [])] or None)
    return trainer, config, plateau


def _keep_4bit_weights_trainable(model) -> None:
    """bitsandbytes (0.49) on a CPU with AVX512-BF16 repacks a 4-bit layer's weight for inference the first
    time the layer runs in eval mode — TRL's evaluation of the held-out tenth — and never back, after which
    the next training step fails inside ``matmul_4bit`` ("a view of a leaf Variable that requires grad is
    being used in an in-place operation"). The policy being trained keeps the trainable layout: that
    inference repacking is turned off on its 4-bit layers (no effect on a GPU or without 4-bit)."""
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False


def lora_targets(model, lora: dict):
    """PEFT's ``target_modules`` for ``lora``: with ``scope`` ``language_model`` (the default) a pattern
    that matches the ``target_modules`` names inside the language model alone (the module transformers'
    ``get_decoder()`` returns: ``model.language_model`` for Qwen2.5-VL and Gemma-3), so the vision
    encoder's MLPs and attention, whose layers carry the same names, get no adapter; with ``all``, the
    names as given (PEFT matches them anywhere)."""
    import re

    names = list(lora["target_modules"])
    if lora.get("scope", "language_model") == "all":
        return names
    decoder = model.get_decoder()
    prefix = next((name for name, module in model.named_modules() if module is decoder and name), None)
    if prefix is None:
        raise GRPOSettingsError(f"grpo.lora.scope 'language_model': {type(model).__name__} has no language model "
                                f"submodule to restrict LoRA to; set scope: all")
    return rf"{re.escape(prefix)}\..*\.({'|'.join(re.escape(n) for n in names)})"


def checksum_callback(ledger: Ledger):
    """A TrainerCallback that records each checkpoint in ``ledger`` (its checksum) once the Trainer has
    saved it: a checkpoint not recorded was cut short by a kill and is never resumed."""
    from transformers import TrainerCallback

    class Callback(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            name = f"checkpoint-{state.global_step}"
            if (ledger.folder / name).is_dir():
                ledger.record({name: None})

    return Callback()


def last_intact_checkpoint(ledger: Ledger) -> str | None:
    """The newest checkpoint in the ledger's folder that was recorded whole and is intact; newer ones
    that are not (cut short, damaged, of other settings) are removed, each named in the log."""
    if not ledger.folder.is_dir():
        return None
    steps = sorted((int(p.name.split("-")[1]) for p in ledger.folder.glob("checkpoint-*")
                    if p.is_dir() and p.name.split("-")[1].isdigit()), reverse=True)
    for step in steps:
        if ledger.kept(f"checkpoint-{step}"):
            return str(ledger.folder / f"checkpoint-{step}")
    return None


def _train_or_keep(trainer, checkpoints: Ledger, max_steps: int) -> str | None:
    """Train, resuming from the last intact checkpoint in ``checkpoints`` if any; a checkpoint at exactly
    ``max_steps`` (a run killed after it) gives the adapter and state as they are. Checkpoints past
    ``max_steps`` are of a longer run — its learning rate decayed over more steps, so none of them lies
    on this run's path: they are discarded and the run starts afresh. The checkpoint used."""
    from safetensors.torch import load_file
    from transformers import TrainerState

    from peft import set_peft_model_state_dict

    checkpoint = last_intact_checkpoint(checkpoints)
    state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json")) if checkpoint else None
    if state is not None and 0 < max_steps < state.global_step:
        log.info("%s is past max_steps %d: the checkpoints of a longer run are discarded, and the run starts "
                 "afresh", checkpoint, max_steps)
        for name in {*checkpoints.units, *(path.name for path in checkpoints.folder.glob("checkpoint-*"))}:
            if name.startswith("checkpoint-"):
                checkpoints.discard(name)
        checkpoints.save()
        checkpoint, state = None, None
    if state is not None and 0 < max_steps == state.global_step:
        # resuming would train past max_steps
        log.info("%s already reached max_steps %d: its adapter and log are kept", checkpoint, max_steps)
        set_peft_model_state_dict(trainer.model, load_file(str(Path(checkpoint) / "adapter_model.safetensors")))
        trainer.state = state
    else:
        if checkpoint:
            log.info("resuming from %s", checkpoint)
        trainer.train(resume_from_checkpoint=checkpoint)
    return checkpoint


def run_stamp(data: GRPOData, settings: dict, learning_rate: float) -> dict:
    """What a run's adapter depends on (the pool by a hash of its item ids, a local model folder by its
    :func:`folder_fingerprint`), as JSON values: checkpoints or a finished run of other settings are
    never resumed or reused. How long to train (``max_steps``) and how often to save are left out: a
    longer ``max_steps`` continues a run from its checkpoint (a shorter one retrains: ``_train_or_keep``)."""
    entry = data.entry
    ids = "\x1f".join(sorted(data.pool["parent_asin"].to_list()))
    trainer = {k: v for k, v in settings.get("trainer", {}).items() if k != "max_steps"}
    settings = {**{k: v for k, v in settings.items() if k not in ("save_steps", "passes")},
                "trainer": trainer}
    stamp = {"task": data.task, "model": entry.get("model"), "revision": entry.get("revision"),
             "model_files": folder_fingerprint(entry.get("model", "")),
             "dtype": entry.get("dtype"), "quantization": entry.get("quantization"), "prompt": data.prompt,
             "answer_key": data.answer_key, "learning_rate": learning_rate, "settings": settings,
             "lora_scope": settings.get("lora", {}).get("scope", "language_model"),
             "pool": hashlib.sha256(ids.encode()).hexdigest()[:16]}
    return json.loads(json.dumps(stamp, sort_keys=True, default=str))


def lr_folder(learning_rate: float) -> str:
    return f"lr_{learning_rate:g}"


def train_grpo_at(data: GRPOData, out_dir, learning_rate: float, settings: dict, rewards: list) -> dict:
    """The :func:`train_grpo` run at one learning rate, in ``<out>/lr_<lr>/`` (resumable): a run already
    finished with these settings is kept, not retrained. Returns its record (``grpo.json``)."""
    folder = Path(out_dir) / lr_folder(learning_rate)
    finished = Ledger(folder, run_stamp(data, settings, learning_rate))
    if all([finished.kept(name) for name in FINISHED]):  # every one checked (a damaged one is removed)
        record = json.loads((folder / "grpo.json").read_text())
        max_steps = planned_steps(settings, record["items"]["train"])
        if record["stop_reason"] == "plateau" or 0 < max_steps <= record["steps"]:
            log.info("%s: finished with these settings; kept", folder)
            return record
    return train_grpo(data, folder, settings, rewards, learning_rate=learning_rate)


def choose_grpo_run(out_dir, learning_rates: list[float]) -> dict:
    """Of the finished runs ``<out>/lr_<lr>/`` (:func:`train_grpo_at`), keep the one with the best mean
    total reward on the held-out tenth of the pool: its adapter and reward log are copied to
    ``<out>/adapter`` and ``<out>/reward_log.parquet``, and ``<out>/grpo.json`` records every run and the
    choice. One learning rate: that run. The runs may have been separate jobs (the paper's grid)."""
    if not learning_rates:
        raise GRPOSettingsError("grpo.learning_rates is empty: give at least one learning rate")
    out = Path(out_dir)
    runs = [json.loads((out / lr_folder(lr) / "grpo.json").read_text()) for lr in learning_rates]
    scores = [r.get("heldout_reward") for r in runs]
    if len(runs) > 1 and any(score is None for score in scores):
        raise ValueError("choosing between learning rates needs a held-out reward for each run "
                         "(heldout_share > 0 and at least two usable pool items)")
    best = int(np.argmax(scores)) if len(runs) > 1 else 0
    chosen = out / lr_folder(learning_rates[best])
    with atomic_path(out / "adapter") as tmp:
        shutil.copytree(chosen / "adapter", tmp)
    with atomic_path(out / "reward_log.parquet") as tmp:
        shutil.copyfile(chosen / "reward_log.parquet", tmp)
    summary = {**runs[best], "chosen_learning_rate": learning_rates[best],
               "runs": [{"learning_rate": lr, "heldout_reward": r.get("heldout_reward"), "steps": r["steps"],
                         "stop_reason": r["stop_reason"]} for lr, r in zip(learning_rates, runs)],
               "chosen_by": "mean total reward on the held-out tenth of the pool" if len(runs) > 1 else "only run"}
    write_json(out / "grpo.json", summary)
    return summary


def train_grpo_runs(data: GRPOData, out_dir, learning_rates: list[float], settings: dict, rewards: list) -> dict:
    """Every learning rate's run in turn (:func:`train_grpo_at`), then the best kept
    (:func:`choose_grpo_run`): the grid in one process. The pipeline runs each rate as its own job."""
    for lr in learning_rates:
        train_grpo_at(data, out_dir, lr, settings, rewards)
    return choose_grpo_run(out_dir, learning_rates)
