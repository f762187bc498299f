"""Paint the T→I prompts of a model into product covers with a Stable Diffusion 3 pipeline.

Settings (``config.diffusion``) default to the authors': stabilityai/stable-diffusion-3.5-large-turbo,
4 steps, guidance 0 (no classifier-free guidance), T5 ``max_sequence_length`` 512, 1024×1024 — but
each item is **seeded** (theirs was not): its generator is seeded with ``derive_seed(seed,
parent_asin)`` (:mod:`mmpcbench.seeds`), so an item's image does not depend on the batch it was painted in, and a rerun repaints it exactly.

An answer that failed to parse (``parse_status`` not ``ok``/``repaired``) is **not a prompt** and is
never painted as one (the authors' code painted the word ``error``): under ``on_failed_prompt: skip``
(the default) the item gets no image and the manifest says ``no_prompt``; ``raw`` paints the raw
answer instead, and says ``painted_raw``.

Images are written one file per item, atomically, and recorded in the folder's ledger
(:mod:`mmpcbench.units`) with the settings and the prompt that made them and their checksum; a killed
job resumes where it stopped: an image is kept only if it was painted from the same prompt with the same
settings and is intact, else it is repainted and the log says why. The manifest has the contract of every T→I method:
``parent_asin, image_path, source_asin, status`` (paths relative to the results root).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import polars as pl
from PIL import Image
from tqdm import tqdm

from mmpcbench.completion.borrow import IMAGE_SCHEMA
from mmpcbench.cost import count, loading
from mmpcbench.io import atomic_path, write_parquet
from mmpcbench.models import offline_hint, torch_dtype
from mmpcbench.seeds import derive_seed
from mmpcbench.units import Ledger, folder_fingerprint

log = logging.getLogger(__name__)
PARSED = ("ok", "repaired")
# the settings an image depends on (with the model folder's fingerprint and the item's prompt): an image
# painted under other values is not reused
STAMPED = ("model", "revision", "dtype", "steps", "guidance_scale", "max_sequence_length", "height", "width", "seed",
           "on_failed_prompt")


class DiffusionError(RuntimeError):
    """The diffusion pipeline cannot be loaded; the message names the model and what to do."""


@loading("diffusion")
def load_pipeline(settings: dict, device: str | None = None):
    import torch
    from diffusers import StableDiffusion3Pipeline

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    kwargs = {"dtype": torch_dtype(settings.get("dtype", "bfloat16"))}
    if settings.get("revision"):
        kwargs["revision"] = settings["revision"]
    try:
        pipeline = StableDiffusion3Pipeline.from_pretrained(settings["model"], **kwargs)
    except (OSError, ValueError) as error:
        raise DiffusionError(f"cannot load diffusion model {settings['model']!r}{offline_hint()}: {error}") from error
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def painting_settings(settings: dict) -> dict:
    """What an image depends on besides its prompt: the ``STAMPED`` settings and, for a model given as a
    local folder, its files' fingerprint."""
    return {**{key: settings.get(key) for key in STAMPED}, "model_files": folder_fingerprint(settings.get("model", ""))}


def paint(pipeline, prompts: list[str], seeds: list[int], settings: dict) -> list[Image.Image]:
    """One image per prompt, each from a generator seeded with its own seed (so an image does not depend
    on its batch mates), with the ``diffusion`` settings (steps, guidance, size, T5 length)."""
    import torch

    device = getattr(pipeline, "device", "cpu")
    generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
    return pipeline(
        list(prompts), num_inference_steps=settings.get("steps", 4), guidance_scale=settings.get("guidance_scale", 0.0),
        height=settings.get("height", 1024), width=settings.get("width", 1024),
        max_sequence_length=settings.get("max_sequence_length", 512), generator=generators,
    ).images


def paint_prompts(
    completions: pl.DataFrame, settings: dict, out_dir: str | Path, out_root: str | Path, pipeline=None,
    load=None,
) -> pl.DataFrame:
    """Paint every parsed prompt of ``completions`` (``parent_asin, raw, text, parse_status``) into
    ``out_dir/{parent_asin}.png``; return the manifest (one row per item, in ``parent_asin`` order).
    ``pipeline``: one already loaded; else ``load()`` (default :func:`load_pipeline`) is called, only if
    something is to be painted."""
    out, out_root = Path(out_dir), Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    policy = settings.get("on_failed_prompt", "skip")
    if policy not in ("skip", "raw"):
        raise ValueError(f"unknown on_failed_prompt {policy!r}; known: ['skip', 'raw']")
    ledger = Ledger(out, painting_settings(settings))
    rows, todo = [], []
    for item in completions.sort("parent_asin").iter_rows(named=True):
        parsed = item["parse_status"] in PARSED
        prompt = item["text"] if parsed else (" ".join((item["raw"] or "").split()) if policy == "raw" else None)
        name = f"{item['parent_asin']}.png"
        if not prompt:
            ledger.discard(name)
            rows.append({"parent_asin": item["parent_asin"], "image_path": None, "source_asin": None,
                         "status": "no_prompt"})
            continue
        rows.append({"parent_asin": item["parent_asin"], "image_path": str((out / name).relative_to(out_root)),
                     "source_asin": None, "status": "painted" if parsed else "painted_raw"})
        if not ledger.kept(name, prompt):
            todo.append((item["parent_asin"], prompt, out / name))
    log.info("%d items: %d to paint, %d already painted, %d without a prompt", len(rows), len(todo),
             sum(r["image_path"] is not None for r in rows) - len(todo), sum(r["image_path"] is None for r in rows))
    if todo:
        pipeline = pipeline or (load() if load else load_pipeline(settings))
        batch_size = settings.get("batch_size", 4)
        started = time.time()
        for start in tqdm(range(0, len(todo), batch_size), desc="paint", unit="batch", mininterval=10):
            batch = todo[start : start + batch_size]
            seeds = [derive_seed(settings.get("seed", 0), asin) for asin, _, _ in batch]
            images = paint(pipeline, [prompt for _, prompt, _ in batch], seeds, settings)
            for (_, _, target), image in zip(batch, images):
                with atomic_path(target) as tmp:
                    image.save(tmp, format="PNG")
            ledger.record({target.name: prompt for _, prompt, target in batch})
            count(images=len(batch))
        log.info("painted %d images, %.2f images/s", len(todo), len(todo) / max(time.time() - started, 1e-9))
    return pl.DataFrame(rows, schema=IMAGE_SCHEMA)


def diffuse_completions(units: list[dict], settings: dict, out_root, manifest_paths) -> None:
    """The ``diffuse`` rule: for each unit (one model's T→I prompts: ``completions`` and the ``out_dir`` it
    paints into; one unit a job, or every model of a category with one job per category) paint the
    prompts and write the manifest to ``manifest_paths``, in order. The pipeline is loaded once for the
    job, and only if something is to be painted (:func:`mmpcbench.models.shared`)."""
    from mmpcbench.models import shared

    for unit, manifest_path in zip(units, manifest_paths, strict=True):
        completions = pl.read_parquet(unit["completions"], columns=["parent_asin", "raw", "text", "parse_status"])
        manifest = paint_prompts(completions, settings, unit["out_dir"], out_root,
                                 load=lambda: shared(load_pipeline, settings))
        write_parquet(manifest, manifest_path)
