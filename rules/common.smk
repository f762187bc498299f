# Config validation, wildcard constraints, paths and input functions. Stage files hold only rules.
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # the mmpcbench library, even when not pip-installed

from mmpcbench import families
from mmpcbench.completion.methods import borrowing_method
from mmpcbench.completion.pipeline import task_request
from mmpcbench.config import adapter_entries, validate_config, selection_for
from mmpcbench.data.fetch import as_url, local_path
from mmpcbench.features.build import ORIGINAL
from mmpcbench.grpo.pipeline import job_settings
from mmpcbench.paths import Layout
from mmpcbench.report.recbench import per_recommender_tables

os.environ.setdefault("HF_HUB_OFFLINE", "1")
validate_config(config)

P = Layout.of(config)  # every path of the run (mmpcbench/paths.py)
CATEGORIES = config["categories"]
DEMO = "demo" in config


CONTROLS = config["completion"]["controls"]
BORROWING = CONTROLS + config["completion"]["baselines"]
MODELS = config["completion"]["models"]
TASKS = list(families.TASKS)
MLLM_RUNS = [(model, category, task) for model in MODELS for category in CATEGORIES for task in TASKS]
# registry entries the pipeline builds itself (the demo's tiny random-weight models)
TINY_MODELS = {name: entry for name, entry in config["models"].items() if entry.get("build_tiny")}
# every completion method, in table order, and its kind (rows of the CQBench / RecBench tables)
METHOD_KIND = {
    **{model: "model" for model in MODELS},
    **{name: "baseline" for name in config["completion"]["baselines"]},
    **{name: "control" for name in CONTROLS},
}
METHODS = list(METHOD_KIND)
CQ_RUNS = [(task, category, method, METHOD_KIND[method]) for task in TASKS for category in CATEGORIES for method in METHODS]
RECBENCH = config["recbench"]
# RecBench variants: the original features, and for each task every completion method and imputation baseline
REC_METHODS = METHODS + [name for name in RECBENCH["imputations"] if name not in METHODS]
REC_KIND = {**METHOD_KIND, **{name: "imputation" for name in RECBENCH["imputations"]}}
# a task's variants exist only if the recommenders see the modality it replaces
REC_TASKS = [task for task in TASKS if families.TASKS[task].completes in RECBENCH["features"]["modalities"]]
VARIANTS = [ORIGINAL] + [f"{task}-{method}" for task in REC_TASKS for method in REC_METHODS]
RECOMMENDERS = list(RECBENCH["recommenders"])
REC_TABLES = {name: f"{name}_rec_{recommender.lower()}_{task}"
              for name, (recommender, task) in per_recommender_tables(RECOMMENDERS, REC_TASKS).items()}
CQ_TABLES = families.tables_of("cqbench")


wildcard_constraints:
    category="|".join(CATEGORIES),
    kind="reviews|meta",
    borrowed="|".join(BORROWING),
    model="|".join(re.escape(name) for name in MODELS) or "__none__",
    task="|".join(TASKS),
    modality="text|image",
    method="|".join(re.escape(name) for name in METHODS),
    variant="|".join(re.escape(name) for name in VARIANTS),


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
        P.inter(category),
        P.interim(category, "cq_items.parquet"),
        P.interim(category, "grpo_items.parquet"),
    ]


def completion_outputs(category):
    return (
        [P.completion("i2t", category, method) for method in BORROWING]
        + [P.manifest(category, method) for method in BORROWING]
        + [P.completion(task, category, model) for task in TASKS for model in MODELS]
        + [P.manifest(category, model) for model in MODELS]
    )


def model_outputs(model):
    return [
        P.completion(task, category, model) for task in TASKS for category in CATEGORIES
    ] + [P.manifest(category, model) for category in CATEGORIES]


def diffusion_files(wildcards):
    """The demo's tiny diffusion pipeline is an input file; a hub id is not."""
    return [config["diffusion"]["model"]] if config["diffusion"].get("build_tiny") else []


# --- the model registry: what a completion job needs and asks SLURM for -------------------------


def completion_request(wildcards):
    """The task's prompt, answer key, failure policy, shard size and seed: only what a job uses."""
    return task_request(config["completion"], wildcards.task)


def model_entry(wildcards):
    """The registry entry of ``{model}``; a GRPO adapter entry gets the path of its task's adapter."""
    entry = config["models"][wildcards.model]
    if entry.get("adapter") == "grpo":
        return {**entry, "adapter_path": grpo_adapter(wildcards.task, entry["base"])}
    return entry


def model_files(wildcards):
    """A model the pipeline builds (tiny demo models, GRPO adapters) is an input file; a hub id is not."""
    entry = config["models"][wildcards.model]
    files = []
    if entry.get("adapter") == "grpo":
        files.append(grpo_adapter(wildcards.task, entry["base"]))
        entry = config["models"][entry["base"]]
    return files + ([entry["model"]] if entry.get("build_tiny") else [])


def grpo_adapter(task, base):
    return P.grpo(task, base, "adapter")


def grpo_settings(wildcards):
    """The GRPO settings a training job uses (mmpcbench.grpo.pipeline.job_settings)."""
    return job_settings(config["grpo"])


def grpo_reward_models(wildcards):
    """What the task's similarity reward loads: I→T the text encoder; T→I the diffusion pipeline and
    the CQBench CLIP encoder (with the image metrics' size option)."""
    if families.TASKS[wildcards.task].completes == "text":
        return {"encoders": {"text": config["encoders"]["text"]}}
    image = config["metrics"]["image"]
    return {"diffusion": config["diffusion"], "clip": image["clip"], "image_options": {"size": image.get("size")}}


def grpo_base_entry(wildcards):
    return config["models"][wildcards.base]


def grpo_base_files(wildcards):
    entry = config["models"][wildcards.base]
    return [entry["model"]] if entry.get("build_tiny") else []


def grpo_task_files(wildcards):
    """What a task's reward needs besides the encoders: T→I paints, so the (tiny, demo) SD3 pipeline."""
    return diffusion_files(wildcards) if families.TASKS[wildcards.task].completes == "image" else []


RESOURCE_KEYS = ("gpu", "mem_mb", "runtime", "cpus_per_task")


def job_resources(section):
    """What a rule's jobs ask SLURM for (gpu, mem_mb, runtime, cpus_per_task), from the config section
    it names: ``<section>.resources``, or for ``models`` the registry entry of the job's ``{model}``.
    Defaults (cpus_per_task: 1) are filled in by config validation."""

    def block(wildcards):
        entry = config["models"][wildcards.model] if section == "models" else config[section]
        return entry["resources"]

    def one(key):
        return lambda wildcards: block(wildcards)[key]

    return {key: one(key) for key in RESOURCE_KEYS}


def job_threads(section):
    """A rule's threads: its jobs' cpus_per_task (see job_resources)."""
    return job_resources(section)["cpus_per_task"]


def encoder_spec(wildcards):
    return config["encoders"][wildcards.modality]


def method_input(name, category, task):
    """The file behind an input name of a borrowing method (mmpcbench.completion.methods)."""
    if name == "query_embeddings":
        return P.embedding(category, families.TASKS[task].given)
    if name == "cq_items":
        return P.interim(category, "cq_items.parquet")
    raise ValueError(f"unknown completion-method input {name!r}")


def _borrowed_inputs(wildcards, task):
    inputs = {"rec_items": P.interim(wildcards.category, "rec_items.parquet")}
    for name in borrowing_method(wildcards.borrowed).inputs:
        inputs[name] = method_input(name, wildcards.category, task)
    return inputs


def borrowed_text_inputs(wildcards):
    return _borrowed_inputs(wildcards, "i2t")


def borrowed_image_inputs(wildcards):
    return _borrowed_inputs(wildcards, "t2i")


def score_outputs(category=None, method=None):
    """Per-item score files (and their summaries) of CQBench, for one category and/or method or all."""
    return [
        P.scores(task, c, m, ext)
        for task, c, m, _ in CQ_RUNS
        if category in (None, c) and method in (None, m)
        for ext in ("parquet", "json")
    ]


def cq_run_files():
    """Every CQBench run the tables read: task, category, method, its kind, and its two score files."""
    return [{"task": task, "category": c, "method": m, "kind": kind, "scores": P.scores(task, c, m),
             "summary": P.scores(task, c, m, "json")} for task, c, m, kind in CQ_RUNS]


def cq_table_outputs():
    return [path for name in CQ_TABLES.values() for path in P.table_files(name)]


def cq_figure_outputs():
    return [P.figure(f"figure3_cq_radar_{task}") for task in TASKS]


def completion_of(wildcards):
    """What one method's completion of one task is: the I→T table or the T→I images' manifest."""
    if families.TASKS[wildcards.task].completes == "text":
        return P.completion(wildcards.task, wildcards.category, wildcards.method)
    return P.manifest(wildcards.category, wildcards.method)


def truth_embeddings_of(wildcards):
    return P.embedding(wildcards.category, families.TASKS[wildcards.task].completes)


def completion_encoder(wildcards):
    return config["encoders"][families.TASKS[wildcards.task].completes]


def variant_inputs(wildcards):
    """A variant's features need the ground-truth embeddings and, for a completion method, its features."""
    inputs = {"item_map": P.rec(wildcards.category, "i_id_mapping.csv")}
    for modality in RECBENCH["features"]["modalities"]:
        inputs[modality] = P.embedding(wildcards.category, modality)
    if wildcards.variant != ORIGINAL:
        task, method = wildcards.variant.split("-", 1)
        if method in METHODS:
            inputs["completion"] = P.completion_embedding(task, wildcards.category, method)
        elif families.IMPUTATIONS[method].uses_interactions:
            inputs["inter"] = P.inter(wildcards.category)
    return inputs


def imputation_settings_of(wildcards):
    """The settings of the imputation a variant runs (``recbench.imputation_settings``); {} otherwise."""
    method = wildcards.variant.split("-", 1)[1] if wildcards.variant != ORIGINAL else None
    return RECBENCH.get("imputation_settings", {}).get(method, {}) if method in RECBENCH["imputations"] else {}


def variant_rates(wildcards):
    return [0.0] if wildcards.variant == ORIGINAL else RECBENCH["rates"]


def rec_results(category=None, variant=None):
    return [
        P.rec_result(c, v)
        for c in CATEGORIES
        for v in VARIANTS
        if category in (None, c) and variant in (None, v)
    ]


def rec_runs():
    """Every RecBench result, in table order: category, variant and its file."""
    return [{"category": c, "variant": v, "path": P.rec_result(c, v)} for c in CATEGORIES for v in VARIANTS]


def rec_table_outputs():
    names = ["table6_rec_overview", *REC_TABLES.values()]
    return [path for name in names for path in P.table_files(name)]


def rec_figure_outputs():
    return [P.figure("figure4_rec_heatmap"), P.figure("rec_missing_rate")]


# --- GRPO: the adapters among the completion models, and what their report compares ----------------
ADAPTERS = adapter_entries(config)
GRPO_BASE = config["grpo"]["base"]
GRPO_TABLES = families.tables_of("grpo")


def grpo_pairs():
    """Per (task, before, after, category): the CQBench score files of the base model and its adapter,
    and for I→T the embedding files of the reward metric (mmpcbench.report.grpo)."""
    specs = []
    for after, entry in ADAPTERS.items():
        before = entry["base"]
        for task in TASKS:
            for category in CATEGORIES:
                spec = {"task": task, "before": before, "after": after, "category": category,
                        "before_scores": P.scores(task, category, before),
                        "after_scores": P.scores(task, category, after)}
                if families.TASKS[task].completes == "text":  # the I→T reward's metric: encoder cosine
                    spec.update(cq_items=P.interim(category, "cq_items.parquet"),
                                before_embeddings=P.completion_embedding("i2t", category, before),
                                after_embeddings=P.completion_embedding("i2t", category, after),
                                truth_embeddings=P.embedding(category, "text"))
                specs.append(spec)
    return specs


def grpo_files(name):
    return {task: P.grpo(task, GRPO_BASE, name) for task in config["grpo"]["tasks"]}


def grpo_report_inputs():
    labels = ("task", "before", "after", "category")
    files = {path for spec in grpo_pairs() for key, path in spec.items() if key not in labels}
    return sorted(files) + list(grpo_files("grpo.json").values()) + list(grpo_files("reward_log.parquet").values())


def grpo_outputs():
    if not ADAPTERS:
        return []
    tables = [path for name in GRPO_TABLES.values() for path in P.table_files(name)]
    return tables + [P.figure("figureA5_grpo_rewards")]


def all_outputs():
    outputs = P.table_files("table1_dataset_stats")
    if MODELS:
        outputs += P.table_files("completion_parse_status")
    for category in CATEGORIES:
        outputs += data_outputs(category) + completion_outputs(category)
    outputs += cq_table_outputs() + cq_figure_outputs()
    outputs += rec_table_outputs() + rec_figure_outputs()
    outputs += grpo_outputs()
    return outputs


# --- storage roots. Paths inside the pipeline's tables are relative to a root (item images to the data
# folder, generated images to the results folder). A job takes the root from its own input or output path (so it holds
# where storage is not shared and paths are rewritten), by removing the path's known tail — never by
# counting parents: a layout change that breaks the tail fails with a message, not silently.


def root_from(name, tail):
    """A params function: the folder that the job's input or output ``name`` lies under, its path
    being ``<root>/<tail>`` (``tail`` formatted with the job's wildcards)."""

    def root(wildcards, input, output):
        files = input if name in input.keys() else output
        value = files[name]
        path = Path(value if isinstance(value, str) else value[0])  # a list: its first file
        suffix = Path(tail.format(**{"category": CATEGORIES[0], **dict(wildcards.items())}))
        if path.parts[-len(suffix.parts) :] != suffix.parts:
            raise ValueError(f"{name} path '{path}' does not end with '{suffix}': update root_from({name!r}, ...)")
        return str(Path(*path.parts[: -len(suffix.parts)]))

    return root


# the item covers' root, from the rec-items table a job reads (its image_path are relative to the data folder)
rec_items_root = root_from("rec_items", "interim/{category}/rec_items.parquet")


def download_url(wildcards):
    return source_url(wildcards.category, wildcards.kind)
