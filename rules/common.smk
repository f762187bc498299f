# Config validation, wildcard constraints, paths and input functions. Stage files hold only rules.
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # the mmpcbench library, even when not pip-installed

from mmpcbench.completion.pipeline import QUERY_MODALITY
from mmpcbench.config import validate_config, selection_for
from mmpcbench.data.fetch import as_url, local_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
validate_config(config)

DATA = config["data_dir"]
RESULTS = config["results_dir"]
LOGS = config["logs_dir"]
CATEGORIES = config["categories"]
DEMO = "demo" in config


CONTROLS = config["completion"]["controls"]
BORROWING = CONTROLS + config["completion"]["baselines"]
MODELS = config["completion"]["models"]
TASKS = ["i2t", "t2i"]
MLLM_RUNS = [(model, category, task) for model in MODELS for category in CATEGORIES for task in TASKS]
# registry entries the pipeline builds itself (the demo's tiny random-weight models)
TINY_MODELS = {name: entry for name, entry in config["models"].items() if entry.get("build_tiny")}


wildcard_constraints:
    category="|".join(CATEGORIES),
    kind="reviews|meta",
    borrowed="|".join(BORROWING),
    model="|".join(re.escape(name) for name in MODELS) or "__none__",
    task="i2t|t2i",
    modality="text|image",


# --- download sources -----------------------------------------------------------------------------


def source_url(category, kind):
    """The URL of a category's raw reviews or meta file (a local base folder becomes file://)."""
    base = as_url(config["download"]["base_url"])
    if not base.endswith("/"):
        base += "/"
    template = config["download"]["reviews_path" if kind == "reviews" else "meta_path"]
    return base + template.format(category=category)


def download_source(wildcards):
    """A file:// source is a real input file (so the demo generator runs first); a URL is not."""
    path = local_path(source_url(wildcards.category, wildcards.kind))
    return [str(path)] if path is not None else []


def selection_of(wildcards):
    return selection_for(config, wildcards.category)


# --- what each target needs -----------------------------------------------------------------------


def data_outputs(category):
    return [
        f"{DATA}/rec/{category}/{category}.inter",
        f"{DATA}/interim/{category}/cq_items.parquet",
        f"{DATA}/interim/{category}/grpo_items.parquet",
    ]


def completion_outputs(category):
    return (
        [f"{RESULTS}/completions/i2t/{category}/{method}.parquet" for method in BORROWING]
        + [f"{RESULTS}/generated_images/{category}/{method}/manifest.parquet" for method in BORROWING]
        + [f"{RESULTS}/completions/{task}/{category}/{model}.parquet" for task in TASKS for model in MODELS]
        + [f"{RESULTS}/generated_images/{category}/{model}/manifest.parquet" for model in MODELS]
    )


def model_outputs(model):
    return [
        f"{RESULTS}/completions/{task}/{category}/{model}.parquet" for task in TASKS for category in CATEGORIES
    ] + [f"{RESULTS}/generated_images/{category}/{model}/manifest.parquet" for category in CATEGORIES]


def diffusion_files(wildcards):
    """The demo's tiny diffusion pipeline is an input file; a hub id is not."""
    return [config["diffusion"]["model"]] if config["diffusion"].get("build_tiny") else []


# --- the model registry: what a completion job needs and asks SLURM for -------------------------


def model_entry(wildcards):
    return config["models"][wildcards.model]


def model_files(wildcards):
    """A model the pipeline builds (tiny demo models) is an input file; a hub id is not."""
    entry = config["models"][wildcards.model]
    return [entry["model"]] if entry.get("build_tiny") else []


def model_gpus(wildcards):
    return config["models"][wildcards.model]["resources"]["gpu"]


def model_mem_mb(wildcards):
    return config["models"][wildcards.model]["resources"]["mem_mb"]


def model_runtime(wildcards):
    return config["models"][wildcards.model]["resources"]["runtime"]


def tiny_model_family_by_path(wildcards):
    return next(entry["family"] for entry in TINY_MODELS.values() if entry["model"] == wildcards.tiny)


def encoder_spec(wildcards):
    return config["encoders"][wildcards.modality]


def _borrowed_inputs(wildcards, task):
    inputs = {"rec_items": f"{DATA}/interim/{wildcards.category}/rec_items.parquet"}
    if wildcards.borrowed == "retrieval":
        modality = QUERY_MODALITY[task]
        inputs["embeddings"] = f"{RESULTS}/embeddings/{wildcards.category}/{modality}.parquet"
        inputs["cq_items"] = f"{DATA}/interim/{wildcards.category}/cq_items.parquet"
    return inputs


def borrowed_text_inputs(wildcards):
    return _borrowed_inputs(wildcards, "i2t")


def borrowed_image_inputs(wildcards):
    return _borrowed_inputs(wildcards, "t2i")


def all_outputs():
    outputs = [f"{RESULTS}/tables/table1_dataset_stats.csv", f"{RESULTS}/tables/table1_dataset_stats.md"]
    if MODELS:
        outputs.append(f"{RESULTS}/tables/completion_parse_status.csv")
    for category in CATEGORIES:
        outputs += data_outputs(category) + completion_outputs(category)
    return outputs


def download_url(wildcards):
    return source_url(wildcards.category, wildcards.kind)
