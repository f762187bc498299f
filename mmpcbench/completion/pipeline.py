"""The completion stages as file-to-file functions: what each workflow rule calls."""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

from mmpcbench.completion.borrow import borrowed_images, borrowed_texts
from mmpcbench.completion.methods import borrowing_method
from mmpcbench.cost import count
from mmpcbench.encoders import encode_images, encode_texts
from mmpcbench.families import TASKS
from mmpcbench.io import write_parquet

log = logging.getLogger(__name__)


def complete_by_borrowing(
    *, task: str, method: str, rec_items_path, out_path, seed: int = 0, inputs: dict | None = None,
    data_root=None, image_folder=None, results_root=None,
) -> pl.DataFrame:
    """I→T (a completions table) or T→I (images + manifest) for every rec item of a category by the
    borrowing method ``method`` (see :mod:`mmpcbench.completion.methods`); ``inputs`` maps the names of
    the files the method reads to their paths. T→I writes the images into ``image_folder`` and the
    manifest's paths relative to ``results_root``; the source covers are under ``data_root``."""
    chosen = borrowing_method(method)
    inputs = dict(inputs or {})
    absent = [name for name in chosen.inputs if name not in inputs]
    if absent:
        raise ValueError(f"completion method {method!r} needs the input(s) {absent}; given: {sorted(inputs)}")
    items = pl.read_parquet(rec_items_path, columns=["parent_asin", "text", "image_path"]).sort("parent_asin")
    text = TASKS[task].completes == "text"
    if not hasattr(chosen, "sources"):  # a method that makes its own completions
        frame = (chosen.complete_texts(items, seed, inputs) if text
                 else chosen.complete_images(items, seed, inputs, data_root, image_folder, results_root))
        log.info("%s %s: %d items completed", task, method, frame.height)
        write_parquet(frame, out_path)
        return frame
    sources = chosen.sources(items, seed, inputs)
    if text:
        frame = borrowed_texts(items, sources, method)
    else:
        frame = borrowed_images(items, sources, method, data_root, image_folder, results_root)
    moved = int((sources != items["parent_asin"]).fill_null(True).sum())
    log.info("%s %s: %d items, %d completed from another item or left empty", task, method, frame.height, moved)
    write_parquet(frame, out_path)
    return frame


def embed_items(rec_items_path, modality: str, spec: dict, data_root, out_path) -> pl.DataFrame:
    """Embed the text or the cover of every rec item: ``parent_asin, embedding`` (text: L2-normalised;
    image: the encoder's raw features, which each consumer normalises as its definition says)."""
    items = pl.read_parquet(rec_items_path, columns=["parent_asin", "text", "image_path"]).sort("parent_asin")
    if modality == "text":
        matrix = encode_texts(items["text"].to_list(), spec)
    elif modality == "image":
        matrix = encode_images([f"{data_root}/{p}" for p in items["image_path"]], spec, normalise=False)
    else:
        raise ValueError(f"unknown modality {modality!r}; known: ['text', 'image']")
    frame = pl.DataFrame({"parent_asin": items["parent_asin"]}).with_columns(
        pl.Series("embedding", matrix.astype(np.float32), dtype=pl.Array(pl.Float32, matrix.shape[1]))
    )
    write_parquet(frame, out_path)
    count(items=frame.height)
    log.info("%s embeddings: %d x %d (%s)", modality, *matrix.shape, spec.get("model") or spec.get("family"))
    return frame


def complete_with_model(*, units: list[dict], rec_items_path, data_root, out_paths, server_log=None) -> None:
    """Complete every rec item of a category with one MLLM, for each unit of the job (one task, or both
    with one job per category): ``{"task", "entry", "request"}`` — the registry entry (a GRPO adapter's
    is its task's) and the task's ``prompt``, ``answer_key``, ``failure_policy``, ``shard_size`` and
    ``seed`` (:func:`task_request`) — written to ``out_paths`` in order. The engine is opened once for the
    job (:class:`mmpcbench.completion.mllm.Engines`: a model loaded, a server started — logging to
    ``server_log`` — only if some shard is to be made) and kept for its next task."""
    from mmpcbench.completion.mllm import CompletionRequest, Engines, complete_items

    items = pl.read_parquet(rec_items_path, columns=["parent_asin", "text", "image_path"])
    with Engines(server_log=server_log) as engines:
        for unit, out_path in zip(units, out_paths, strict=True):
            complete_items(CompletionRequest(task=unit["task"], **unit["request"]), unit["entry"], items, data_root,
                           out_path, engines=engines)


def task_request(completion: dict, task: str) -> dict:
    """What one task's completion job needs of the ``completion`` config (so that a change elsewhere in
    it — another model, the other task's prompt — reruns nothing)."""
    return {"prompt": completion["prompts"][task], "answer_key": completion["answer_keys"][task],
            "failure_policy": completion["failure_policy"], "shard_size": completion["shard_size"],
            "seed": completion["seed"]}
