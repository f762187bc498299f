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
from mmpcbench.families import MLLM_FAMILIES, TASKS, resolve
from mmpcbench.io import write_parquet
from mmpcbench.models import offline_hint, torch_dtype
from mmpcbench.seeds import derive_seed

log = logging.getLogger(__name__)

RESULT_SCHEMA = {
    "parent_asin": pl.String, "raw": pl.String, "text": pl.String, "parse_status": pl.String,
    "n_input_tokens": pl.Int64, "n_output_tokens": pl.Int64,
}


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


def complete_items(request: CompletionRequest, entry: dict, items: pl.DataFrame, data_root: str | Path,
                   out_path: str | Path, model_and_processor=None) -> pl.DataFrame:
    """Complete every item (``parent_asin, text, image_path``; covers under ``data_root``) with the
    model of ``entry``; write the result table to ``out_path``.

    An item whose cover cannot be opened (I→T) or whose text is empty (T→I) is not sent to the model:
    its ``parse_status`` is ``image_error`` or ``empty_input`` (logged, counted), its text per the policy.

    Work is done in shards of ``request.shard_size`` items written atomically beside the output
    (``<out>.shards/``); a run that was killed redoes only the shards that are missing. The model is
    loaded only if some shard is missing. Each row: ``parent_asin, raw, text, parse_status,
    n_input_tokens, n_output_tokens`` (``text`` after the failure policy). Wall times go to the log, not
    to the table, so that two clean runs write the same bytes. A kept shard that cannot be read (a copy
    cut short) is logged with its path and redone.
    """
    items = items.sort("parent_asin")
    out_path = Path(out_path)
    shard_dir = out_path.with_name(out_path.name + ".shards")
    shard_dir.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, math.ceil(items.height / request.shard_size))
    loaded = model_and_processor
    started, done_items, done_tokens = time.time(), 0, 0
    for index in tqdm(range(n_shards), desc=f"{request.task} shards", unit="shard", mininterval=10):
        shard = items.slice(index * request.shard_size, request.shard_size)
        path = shard_dir / f"shard-{index:05d}-of-{n_shards:05d}.parquet"
        if _complete_shard_file(path, shard):
            continue
        if loaded is None:
            loaded = load_mllm(entry)
        _seed_everything(request.seed, index)  # sampling (when configured) is reproducible per shard
        rows = _complete_shard(request, entry, loaded, shard, data_root)
        write_parquet(pl.DataFrame(rows, schema=RESULT_SCHEMA), path)
        tokens = sum(row["n_output_tokens"] for row in rows)
        done_items += shard.height
        done_tokens += tokens
        count(items=shard.height, tokens=tokens)
        elapsed = max(time.time() - started, 1e-9)
        log.info("shard %d/%d: %.2f items/s, %.1f tokens/s", index + 1, n_shards, done_items / elapsed,
                 done_tokens / elapsed)
    frame = pl.concat([pl.read_parquet(p) for p in sorted(shard_dir.glob(f"shard-*-of-{n_shards:05d}.parquet"))])
    if not frame["parent_asin"].equals(items["parent_asin"]):
        raise MLLMError(f"{shard_dir}: the shards do not cover the items; delete the folder and run again")
    write_parquet(frame, out_path)
    shutil.rmtree(shard_dir)
    failures = frame.filter(~pl.col("parse_status").is_in(["ok", "repaired"])).height
    log.info("%s: %d items, %d answers that did not parse (policy: %s)", out_path, frame.height, failures,
             request.failure_policy)
    return frame


def _complete_shard_file(path: Path, shard: pl.DataFrame) -> bool:
    """Whether ``path`` holds this shard, finished; an unreadable file is logged and removed (redone)."""
    if not path.exists():
        return False
    try:
        return pl.read_parquet(path, columns=["parent_asin"])["parent_asin"].equals(shard["parent_asin"])
    except Exception as error:  # polars raises several kinds for a file cut short
        log.warning("%s: unreadable (%s: %s); this shard is redone", path, type(error).__name__, error)
        path.unlink()
        return False


def _shard_inputs(request: CompletionRequest, shard: pl.DataFrame, data_root) -> tuple[list, dict[str, str]]:
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


def _complete_shard(request: CompletionRequest, entry: dict, loaded, shard: pl.DataFrame, data_root) -> list[dict]:
    """Generate the answers of one shard (batched, halving on out-of-memory) and parse them: its rows."""
    model, processor = loaded
    conversations, unusable = _shard_inputs(request, shard, data_root)
    tick = time.time()
    outputs = iter(_generate_adaptive(model, processor, conversations, entry["max_new_tokens"][request.task],
                                      entry.get("generation", {}), entry.get("batch_size", 8)))
    log.info("%d answers generated in %.2f s", len(conversations), time.time() - tick)
    policy, rows = request.failure_policy, []
    for asin in shard["parent_asin"]:
        if asin in unusable:  # no input to complete from: counted as its own status, text per policy
            status = unusable[asin].split(":")[0]
            rows.append({"parent_asin": asin, "raw": "", "text": completion_text("", None, status, policy),
                         "parse_status": status, "n_input_tokens": 0, "n_output_tokens": 0})
            continue
        raw, n_in, n_out = next(outputs)
        if encodable(raw) != raw:  # lone surrogates (a served engine's broken Unicode): replaced, logged
            log.warning("%s: the answer holds lone surrogates; each is written as U+FFFD", asin)
            raw = encodable(raw)
        value, status = parse_answer(raw, request.answer_key)
        rows.append({"parent_asin": asin, "raw": raw, "text": completion_text(raw, value, status, policy),
                     "parse_status": status, "n_input_tokens": n_in, "n_output_tokens": n_out})
    return rows
