"""Multimodal LLM completion: load a registry entry, build chat prompts, generate in batches, in
resumable shards.

One adapter serves every family of ``mmpcbench.families.MLLM_FAMILIES`` (``qwen2_5_vl``, ``gemma3``):
each names its transformers model and processor classes (both: ``AutoModelForImageTextToText`` +
``AutoProcessor``), and all take chat messages whose content mixes ``{"type": "image"}`` and
``{"type": "text"}`` parts. A family only sets defaults and refusals (Gemma-3 must compute in bfloat16:
fp16 gives empty or NaN output).

A registry entry (``config.models[name]``)::

    model: Qwen/Qwen2.5-VL-7B-Instruct     # hub id or local folder
    revision: <commit>                     # pinned hub revision (optional for a local folder)
    family: qwen2_5_vl                     # or gemma3
    dtype: float16                         # compute dtype (gemma3: bfloat16)
    quantization: nf4                      # 4-bit NF4 with double quantisation (bitsandbytes), or none
    batch_size: 16
    max_new_tokens: {i2t: 128, t2i: 256}
    generation: {}                         # {} = the model's own generation config; e.g. {do_sample: false}
    resources: {gpu: 1, mem_mb: 32000, runtime: 240}
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from PIL import Image
from tqdm import tqdm

from mmpcbench.completion.answers import completion_text, encodable, parse_answer
from mmpcbench.cost import count, loading
from mmpcbench.families import ENGINES, MLLM_FAMILIES, TASKS, resolve
from mmpcbench.io import sha256_file, write_parquet
from mmpcbench.models import offline_hint, torch_dtype
from mmpcbench.seeds import derive_seed
from mmpcbench.units import Ledger, folder_fingerprint, tree_sha256

log = logging.getLogger(__name__)

RESULT_SCHEMA = {
    "parent_asin": pl.String, "raw": pl.String, "text": pl.String, "parse_status": pl.String,
    "n_input_tokens": pl.Int64, "n_output_tokens": pl.Int64,
}
# a shard keeps the raw answers; they are parsed when the shards are joined (``unusable``: why an item
# was not sent to the model)
SHARD_SCHEMA = {"parent_asin": pl.String, "raw": pl.String, "unusable": pl.String, "n_input_tokens": pl.Int64,
                "n_output_tokens": pl.Int64}


# a served engine asked for an item's answer and none came (retries spent on errors or on bodies that are
# not chat completions; :mod:`mmpcbench.completion.served` logs each with its HTTP status)
NO_ANSWER = "no_answer"


class MLLMError(RuntimeError):
    """A model cannot be loaded or used; the message names the model and what to do."""


@loading("MLLM")
def load_mllm(entry: dict, device: str | None = None):
    """Load ``(model, processor)`` for a registry entry; the processor pads on the left for batches."""
    import torch
    from transformers import BitsAndBytesConfig

    if entry.get("family") not in MLLM_FAMILIES:
        raise MLLMError(f"{MLLM_FAMILIES.unknown_message([entry.get('family')])} (model {entry.get('model')!r})")
    family = MLLM_FAMILIES[entry["family"]]
    dtype_name = entry.get("dtype", family.dtype)
    if dtype_name in family.refused_dtypes:
        raise MLLMError(f"{entry['model']!r}: {family.refused_dtypes[dtype_name]}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    kwargs = {"dtype": torch_dtype(dtype_name)}
    if entry.get("revision"):
        kwargs["revision"] = entry["revision"]
    if entry.get("quantization", "none") == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(dtype_name),
        )
        kwargs["device_map"] = "auto" if device == "cuda" else "cpu"
    try:
        model = resolve(family.model_class).from_pretrained(entry["model"], **kwargs)
        processor = resolve(family.processor_class).from_pretrained(entry["model"], revision=entry.get("revision"))
    except (OSError, ValueError) as error:
        raise MLLMError(f"cannot load model {entry['model']!r}{offline_hint()}: {error}") from error
    if "quantization_config" not in kwargs:
        model = model.to(device)
    if entry.get("adapter_path"):  # a GRPO adapter entry: the base with the task's LoRA adapter
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, entry["adapter_path"])
        except (OSError, ValueError) as error:
            raise MLLMError(f"cannot load the adapter {entry['adapter_path']!r} over {entry['model']!r}: {error}") \
                from error
    processor.tokenizer.padding_side = "left"
    return model.eval(), processor


def conversation(task: str, prompt: str, text: str | None = None, image: Image.Image | None = None) -> list[dict]:
    """The chat messages for one item: a task given the image (I→T) shows it and asks; one given the
    text (T→I) puts the product text into the prompt."""
    if TASKS[task].given == "image":
        content = [{"type": "image", "image": image}, {"type": "text", "text": prompt}]
    else:
        content = [{"type": "text", "text": prompt.replace("{text}", text or "")}]
    return [{"role": "user", "content": content}]


def generate(model, processor, conversations: list[list[dict]], max_new_tokens: int, generation: dict) -> list[tuple]:
    """Generate for a batch; return ``(raw answer, input tokens, output tokens)`` per conversation."""
    import torch

    inputs = processor.apply_chat_template(
        conversations, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt",
        processor_kwargs={"padding": True},
    ).to(model.device)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, **generation)
    new = output[:, inputs["input_ids"].shape[1]:]
    tokenizer = processor.tokenizer
    stops = set(_as_list(model.generation_config.eos_token_id)) | {tokenizer.pad_token_id}
    counts = []
    for row in new.tolist():
        n = next((i for i, token in enumerate(row) if token in stops), len(row))
        counts.append(n)
    raws = processor.batch_decode(new, skip_special_tokens=True)
    n_inputs = inputs["attention_mask"].sum(dim=1).tolist()
    return [(raw, int(n_in), n_out) for raw, n_in, n_out in zip(raws, n_inputs, counts)]


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_out_of_memory(error: Exception) -> bool:
    return "out of memory" in str(error).lower() or type(error).__name__ == "OutOfMemoryError"


def _generate_adaptive(model, processor, conversations, max_new_tokens, generation, batch_size) -> list[tuple]:
    """Generate in batches of ``batch_size``; on out-of-memory halve the batch and retry (logged)."""
    results, start = [], 0
    while start < len(conversations):
        chunk = conversations[start : start + batch_size]
        try:
            results += generate(model, processor, chunk, max_new_tokens, generation)
            start += len(chunk)
        except (RuntimeError, MemoryError) as error:
            if not _is_out_of_memory(error) or batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)
            log.warning("out of memory on a batch of %d; retrying with %d", len(chunk), batch_size)
            _free_cache()
    return results


def _seed_everything(seed: int, shard: int) -> None:
    import torch

    torch.manual_seed(derive_seed(seed, shard))


def _free_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass(frozen=True)
class CompletionRequest:
    """What to ask of a model, for one task: the prompt (T→I: with ``{text}``), the JSON key of the
    answer, what an unparsed answer becomes (:func:`completion_text`), the shard size and the seed of
    the sampling (when the registry entry samples)."""

    task: str
    prompt: str
    answer_key: str
    failure_policy: str = "raw"
    shard_size: int = 256
    seed: int = 0


class InProcess:
    """The ``transformers`` engine's answerer: the entry's model in this process, batched generate."""

    def __init__(self, entry: dict, loaded):
        self.entry, (self.model, self.processor) = entry, loaded

    def answer(self, conversations: list[list[dict]], max_new_tokens: int, seed: int = 0) -> list[tuple]:
        # sampling (when the entry samples) draws from torch's generator, seeded per shard by complete_items
        outputs = _generate_adaptive(self.model, self.processor, conversations, max_new_tokens,
                                     self.entry.get("generation", {}), self.entry.get("batch_size", 8))
        return [(raw, n_in, n_out, None) for raw, n_in, n_out in outputs]


@contextlib.contextmanager
def in_process(entry: dict, loaded=None, server_log=None):
    """The ``transformers`` engine (:data:`mmpcbench.families.ENGINES`): load the entry's model (or use
    ``loaded``, a ``(model, processor)`` pair) and answer with :func:`generate`."""
    yield InProcess(entry, loaded if loaded is not None else load_mllm(entry))
    _free_cache()


def engine_of(entry: dict):
    """The entry's engine (``engine``; default ``transformers``, in this process)."""
    return ENGINES[entry.get("engine", "transformers")]


class Engines:
    """The engine a job holds open, opened lazily: :meth:`answerer` opens an entry's engine (loads its
    model, starts its server) on first use and keeps it for the job's next task of the same entry; another
    entry (a GRPO adapter's other task) closes it first. A job that completes both tasks (one job per
    category) so loads its model, or starts its server, once. ``loaded``: a ``(model, processor)`` pair
    already in memory (in-process entries); ``server_log``: where a served entry's server logs."""

    def __init__(self, loaded=None, server_log: str | Path | None = None):
        self.loaded, self.server_log = loaded, server_log
        self.stack, self.key, self.current = contextlib.ExitStack(), None, None

    def __enter__(self) -> "Engines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stack.close()
        self.key = self.current = None

    def answerer(self, entry: dict):
        key = repr(sorted(entry.items()))
        if key != self.key:
            self.close()
            self.current = self.stack.enter_context(
                resolve(engine_of(entry).open)(entry, loaded=self.loaded, server_log=self.server_log))
            self.key = key
        return self.current


def complete_items(request: CompletionRequest, entry: dict, items: pl.DataFrame, data_root: str | Path,
                   out_path: str | Path, model_and_processor=None, server_log: str | Path | None = None,
                   engines: Engines | None = None) -> pl.DataFrame:
    """Complete every item (``parent_asin, text, image_path``; covers under ``data_root``) with the
    model of ``entry``; write the result table to ``out_path``.

    An item whose cover cannot be opened (I→T) or whose text is empty (T→I) is not sent to the model:
    its ``parse_status`` is ``image_error`` or ``empty_input`` (logged, counted), its text per the policy.

    Work is done in shards of ``request.shard_size`` items, written atomically beside the output
    (``<out>.shards/``) with a ledger (:mod:`mmpcbench.units`); a run that was killed redoes only the
    shards that are missing, and those made with other settings or from other inputs, or damaged
    (each named in the log, with the reason). A shard's stamp (:func:`shard_settings`,
    :func:`shard_inputs`) holds everything its raw answers depend on. The answers are parsed, and the
    failure policy applied, when the shards are joined, so a change of either reuses every shard. The
    entry's engine (:data:`mmpcbench.families.ENGINES`: the model in this process, or a served endpoint,
    :mod:`mmpcbench.completion.served`, whose server's log goes to ``server_log``) is opened only if some
    shard is to be made — from ``engines`` (:class:`Engines`) when the job passes the one it holds open
    for its tasks. Each row: ``parent_asin, raw, text, parse_status,
    n_input_tokens, n_output_tokens`` (``text`` after the failure policy). Wall times go to the log, not
    to the table, so that two clean runs write the same bytes.
    """
    items = items.sort("parent_asin")
    out_path = Path(out_path)
    shard_dir = out_path.with_name(out_path.name + ".shards")
    shard_dir.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, math.ceil(items.height / request.shard_size))
    ledger = Ledger(shard_dir, shard_settings(request, entry))
    started, done_items, done_tokens = time.time(), 0, 0
    names = [f"shard-{index:05d}-of-{n_shards:05d}.parquet" for index in range(n_shards)]
    for stale in set(p.name for p in shard_dir.glob("shard-*.parquet")) - set(names):
        (shard_dir / stale).unlink()  # another shard count: not this run's
    with contextlib.ExitStack() as opened:
        if engines is None:
            engines = opened.enter_context(Engines(model_and_processor, server_log))
        answerer = None
        for index in tqdm(range(n_shards), desc=f"{request.task} shards", unit="shard", mininterval=10):
            shard = items.slice(index * request.shard_size, request.shard_size)
            inputs = shard_inputs(request.task, shard, data_root)
            if ledger.kept(names[index], inputs):
                continue
            if answerer is None:
                answerer = engines.answerer(entry)
                started = time.time()
            _seed_everything(request.seed, index)  # sampling (when configured) is reproducible per shard
            rows = _complete_shard(request, entry, answerer, shard, data_root, derive_seed(request.seed, index))
            write_parquet(pl.DataFrame(rows, schema=SHARD_SCHEMA), shard_dir / names[index])
            ledger.record({names[index]: inputs})
            tokens = sum(row["n_output_tokens"] for row in rows)
            done_items += shard.height
            done_tokens += tokens
            count(items=shard.height, tokens=tokens)
            elapsed = max(time.time() - started, 1e-9)
            log.info("shard %d/%d: %.2f items/s, %.1f tokens/s", index + 1, n_shards, done_items / elapsed,
                     done_tokens / elapsed)
    frame = _parsed(request, pl.concat([pl.read_parquet(shard_dir / name) for name in names]))
    if not frame["parent_asin"].equals(items["parent_asin"]):
        raise MLLMError(f"{shard_dir}: the shards do not cover the items; delete the folder and run again")
    write_parquet(frame, out_path)
    shutil.rmtree(shard_dir)
    failures = frame.filter(~pl.col("parse_status").is_in(["ok", "repaired"])).height
    log.info("%s: %d items, %d answers that did not parse (policy: %s)", out_path, frame.height, failures,
             request.failure_policy)
    return frame


def shard_settings(request: CompletionRequest, entry: dict) -> dict:
    """What a shard's raw answers depend on besides its items: the entry's engine's ``settings``."""
    return resolve(engine_of(entry).settings)(request, entry)


def in_process_settings(request: CompletionRequest, entry: dict) -> dict:
    """The ``transformers`` engine's shard stamp: the prompt, the task, the shard size and seed, and of
    the model entry its weights (hub id and revision, or a local folder's :func:`folder_fingerprint`),
    family, dtype, quantisation, the task's ``max_new_tokens``, the generation settings, the batch size
    (padding can change a batch's answers) and a GRPO adapter's files. Not the answer key or the failure
    policy: they are applied when the shards are joined."""
    adapter = entry.get("adapter_path")
    return {"task": request.task, "prompt": request.prompt, "shard_size": request.shard_size, "seed": request.seed,
            "model": entry["model"], "revision": entry.get("revision"), "model_files": folder_fingerprint(entry["model"]),
            "family": entry.get("family"), "dtype": entry.get("dtype"), "quantization": entry.get("quantization", "none"),
            "max_new_tokens": entry["max_new_tokens"][request.task], "generation": entry.get("generation", {}),
            "batch_size": entry.get("batch_size", 8),
            "adapter": tree_sha256(Path(adapter)) if adapter and Path(adapter).exists() else adapter}


def shard_inputs(task: str, shard: pl.DataFrame, data_root) -> list:
    """What a shard's answers depend on of its items: each item's id and what the model is given (the
    cover's bytes, by hash, for a task given the image; the text otherwise)."""
    if TASKS[task].given == "image":
        return [[row["parent_asin"], _file_hash(Path(data_root) / row["image_path"]) if row["image_path"] else None]
                for row in shard.iter_rows(named=True)]
    return [[row["parent_asin"], row["text"]] for row in shard.iter_rows(named=True)]


def _file_hash(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def _parsed(request: CompletionRequest, shards: pl.DataFrame) -> pl.DataFrame:
    """The result table from the shards' raw answers: each parsed, the failure policy applied."""
    rows = []
    for row in shards.iter_rows(named=True):
        if row["unusable"]:  # no input to complete from: counted as its own status, text per policy
            value, status = None, row["unusable"]
        else:
            value, status = parse_answer(row["raw"], request.answer_key)
        # no answer came at all: a missing completion (metrics.missing_policy decides), never scored as text
        text = None if status == NO_ANSWER else completion_text(row["raw"], value, status, request.failure_policy)
        rows.append({"parent_asin": row["parent_asin"], "raw": row["raw"], "text": text,
                     "parse_status": status, "n_input_tokens": row["n_input_tokens"],
                     "n_output_tokens": row["n_output_tokens"]})
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def _conversations(request: CompletionRequest, shard: pl.DataFrame, data_root) -> tuple[list, dict[str, str]]:
    """The conversations of a shard's usable items, and why each other item is not sent to the model."""
    conversations, unusable = [], {}
    for row in shard.iter_rows(named=True):
        image = None
        if TASKS[request.task].given == "image":
            try:
                with Image.open(Path(data_root) / row["image_path"]) as opened:
                    image = opened.convert("RGB")
            except (OSError, SyntaxError, TypeError) as error:
                unusable[row["parent_asin"]] = f"image_error: {error}"
        elif not (row["text"] or "").strip():
            unusable[row["parent_asin"]] = "empty_input"
        if row["parent_asin"] not in unusable:
            conversations.append(conversation(request.task, request.prompt, row["text"], image))
    for asin, reason in unusable.items():
        log.warning("%s: not sent to the model (%s)", asin, reason)
    return conversations, unusable


def _complete_shard(request: CompletionRequest, entry: dict, answerer, shard: pl.DataFrame, data_root,
                    seed: int = 0) -> list[dict]:
    """The answers of one shard from the engine's answerer: its rows (SHARD_SCHEMA). An item the engine
    got no answer for (a served engine's ``no_answer``) is a row with that status, never an answer."""
    conversations, unusable = _conversations(request, shard, data_root)
    tick = time.time()
    outputs = iter(answerer.answer(conversations, entry["max_new_tokens"][request.task], seed))
    log.info("%d answers generated in %.2f s", len(conversations), time.time() - tick)
    rows = []
    for asin in shard["parent_asin"]:
        if asin in unusable:
            rows.append({"parent_asin": asin, "raw": "", "unusable": unusable[asin].split(":")[0],
                         "n_input_tokens": 0, "n_output_tokens": 0})
            continue
        raw, n_in, n_out, status = next(outputs)
        if status is not None:  # asked, but no answer came (logged by the engine, with the reason)
            rows.append({"parent_asin": asin, "raw": "", "unusable": status, "n_input_tokens": n_in,
                         "n_output_tokens": n_out})
            continue
        if encodable(raw) != raw:  # lone surrogates (a served engine's broken Unicode): replaced, logged
            log.warning("%s: the answer holds lone surrogates; each is written as U+FFFD", asin)
            raw = encodable(raw)
        rows.append({"parent_asin": asin, "raw": raw, "unusable": None, "n_input_tokens": n_in,
                     "n_output_tokens": n_out})
    return rows
