# Config validation, wildcard constraints, paths and input functions. Stage files hold only rules.
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # the mmpcbench library, even when not pip-installed

from mmpcbench import families
from mmpcbench.completion.controls import TRUTH
from mmpcbench.completion.degraded import severity_of
from mmpcbench.completion.methods import borrowing_method
from mmpcbench.completion.pipeline import task_request
from mmpcbench.config import adapter_entries, model_kind, validate_config, selection_for
from mmpcbench.data.fetch import as_url, local_path
from mmpcbench.features.build import ORIGINAL
from mmpcbench.grpo.pipeline import job_settings
from mmpcbench.grpo.train import lr_folder
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
    # GRPO adapters and variants (a base run another way) are set apart: Tables 4/5, Figure 3 and Table 6's
    # best MLLM are over the base MLLMs alone (mmpcbench.config.model_kind)
    **{model: model_kind(config, model) for model in MODELS},
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
# calibration (mmpcbench.report.calibration): the ground truth and graded corruptions among the controls
CALIBRATION = TRUTH in CONTROLS and any(severity_of(name) for name in CONTROLS)
CALIBRATION_TABLE = families.tables_of("calibration")["calibration"]

# The longest chain of a category: its paintings -> T→I embeddings -> features -> RecBench training (the
# demo's longest job). Ahead of the scoring jobs, which nothing but the reports waits on, when both are
# ready: on the demo the last category's chain otherwise waited behind scoring and left a core idle at
# the end (docs/benchmarks.md; the completions at this priority too measured no better).
REC_CHAIN_PRIORITY = 2

# how work is cut into jobs: one per method or variant, or one per category (config one_job_per_category)
PER_CATEGORY = config.get("one_job_per_category", False)


def per_job(pattern, flag=None, **values):
    """A file of a rule that runs one unit (a method, a variant) per job; with ``one_job_per_category``,
    the list of a category's files over ``values`` (``method=[...]``), the other wildcards kept.
    ``flag``: Snakemake's ``directory``, applied to each."""
    files = expand(pattern, allow_missing=True, **values) if PER_CATEGORY else [pattern]
    files = [flag(path) for path in files] if flag else files
    return files if PER_CATEGORY else files[0]


def job_log(*parts, unit):
    """The log of such a rule's job: ``parts`` and the unit's wildcard, or ``parts`` alone per category."""
    return P.log(*parts) if PER_CATEGORY else P.log(*parts, unit)


def units(wildcards, name, values):
    """The units one job runs, in its output order: ``values`` per category, else the job's own."""
    return list(values) if PER_CATEGORY else [wildcards[name]]


MODEL_PATTERN = "|".join(re.escape(name) for name in MODELS) or "__none__"


wildcard_constraints:
    category="|".join(CATEGORIES),
    kind="reviews|meta",
    borrowed="|".join(BORROWING),
    model=MODEL_PATTERN,
    base=MODEL_PATTERN,  # GRPO's base: a completion model
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


def completion_units(wildcards):
    """Per task of a completion job, in its output order: the task, the model's registry entry with its
    name (for messages; a GRPO adapter entry with the path of that task's adapter) and the task's prompt,
    answer key, failure policy, shard size and seed — only what the job uses."""
    return [{"task": task, "entry": model_entry(wildcards.model, task), "request": task_request(config["completion"], task)}
            for task in units(wildcards, "task", TASKS)]


def diffusion_units(wildcards):
    """Per model of a painting job, in its output order: the T→I completions and the folder painted into."""
    return [{"completions": P.completion("t2i", wildcards.category, model), "out_dir": P.paintings(wildcards.category, model)}
            for model in units(wildcards, "model", MODELS)]


def model_entry(model, task):
    entry = {**config["models"][model], "name": model}
    if entry.get("adapter") == "grpo":
        return {**entry, "adapter_path": grpo_adapter(task, entry["base"])}
    return entry


def model_files(wildcards):
    """A model the pipeline builds (tiny demo models, GRPO adapters) is an input file; a hub id is not.
    An entry over a base (an adapter, or the base served) needs the base's built weights."""
    entry = config["models"][wildcards.model]
    files = []
    if entry.get("adapter") == "grpo":
        files += [grpo_adapter(task, entry["base"]) for task in units(wildcards, "task", TASKS)]
    if "base" in entry:
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
    for method in units(wildcards, "borrowed", BORROWING):
        for name in borrowing_method(method).inputs:
            inputs[name] = method_input(name, wildcards.category, task)
    return inputs


def borrowed_folders(wildcards):
    """Where each borrowing method of a T→I job writes its images."""
    return [P.paintings(wildcards.category, method) for method in units(wildcards, "borrowed", BORROWING)]


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
    return [path for task in TASKS for path in (P.figure(f"figure3_cq_radar_{task}"),
                                                P.figure_data(f"figure3_cq_radar_{task}"))]


def completion_of(wildcards):
    """What the methods' completions of one task are (an embedding job's methods): the I→T tables or
    the T→I images' manifests."""
    methods = units(wildcards, "method", METHODS)
    if families.TASKS[wildcards.task].completes == "text":
        return [P.completion(wildcards.task, wildcards.category, method) for method in methods]
    return [P.manifest(wildcards.category, method) for method in methods]


def truth_embeddings_of(wildcards):
    return P.embedding(wildcards.category, families.TASKS[wildcards.task].completes)


def completion_encoder(wildcards):
    return config["encoders"][families.TASKS[wildcards.task].completes]


def variant_inputs(wildcards):
    """What a features job reads: the item map, the ground-truth embeddings and, per variant, a completion
    method's features or an imputation's training interactions (``variant_units``)."""
    inputs = {"item_map": P.rec(wildcards.category, "i_id_mapping.csv")}
    for modality in RECBENCH["features"]["modalities"]:
        inputs[modality] = P.embedding(wildcards.category, modality)
    variants = variant_units(wildcards)
    inputs["completions"] = [unit["completion"] for unit in variants if unit["completion"]]
    if any(unit["inter"] for unit in variants):
        inputs["inter"] = P.inter(wildcards.category)
    return inputs


def variant_units(wildcards):
    """Per variant of a features or training job, in its output order: its name, missing rates, whether
    it reads a completion method's features or the training interactions (an imputation that uses
    them; their paths are the job's inputs), and its imputation settings."""
    out = []
    for variant in units(wildcards, "variant", VARIANTS):
        method = variant.split("-", 1)[1] if variant != ORIGINAL else None
        imputation = method in RECBENCH["imputations"] and method not in METHODS
        out.append({
            "variant": variant,
            "rates": [0.0] if variant == ORIGINAL else RECBENCH["rates"],
            "completion": P.completion_embedding(variant.split("-", 1)[0], wildcards.category, method)
            if method in METHODS else None,
            "inter": P.inter(wildcards.category) if imputation and families.IMPUTATIONS[method].uses_interactions
            else None,
            "imputation_settings": RECBENCH.get("imputation_settings", {}).get(method, {}) if imputation else {},
        })
    return out


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
    return [P.figure("figure4_rec_heatmap"), P.figure_data("figure4_rec_heatmap"), P.figure("rec_missing_rate")]


# --- GRPO: the adapters among the completion models, and what their report compares ----------------
ADAPTERS = adapter_entries(config)
GRPO_BASE = config["grpo"]["base"]
# one grpo_train job per learning rate, in the run's folder lr_<rate> (mmpcbench.grpo.train.lr_folder)
GRPO_LR_FOLDERS = [lr_folder(lr) for lr in config["grpo"]["learning_rates"]]
GRPO_LR_PATTERN = "|".join(re.escape(folder.removeprefix("lr_")) for folder in GRPO_LR_FOLDERS) or "__none__"
GRPO_TABLES = families.tables_of("grpo")


def grpo_pairs():
    """Per (task, before, after, category): the CQBench score files of the base model and its adapter,
    and for I→T the CQ items and both completion files, for the training reward (mmpcbench.report.grpo)."""
    specs = []
    for after, entry in ADAPTERS.items():
        before = entry["base"]
        for task in TASKS:
            for category in CATEGORIES:
                spec = {"task": task, "before": before, "after": after, "category": category,
                        "before_scores": P.scores(task, category, before),
                        "after_scores": P.scores(task, category, after)}
                if families.TASKS[task].completes == "text":  # the I→T training reward, on the raw answers
                    spec.update(cq_items=P.interim(category, "cq_items.parquet"),
                                before_completions=P.completion(task, category, before),
                                after_completions=P.completion(task, category, after))
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
    return tables + [P.figure("figureA5_grpo_rewards"), P.figure_data("figureA5_grpo_rewards")]


def all_outputs():
    outputs = P.table_files("table1_dataset_stats")
    if MODELS:
        outputs += P.table_files("completion_parse_status")
    for category in CATEGORIES:
        outputs += data_outputs(category) + completion_outputs(category)
    outputs += cq_table_outputs() + cq_figure_outputs()
    outputs += rec_table_outputs() + rec_figure_outputs()
    outputs += grpo_outputs()
    if CALIBRATION:
        outputs += P.table_files(CALIBRATION_TABLE) + [P.figure("calibration")]
    outputs += gallery_outputs()
    return outputs


def gallery_outputs():
    return [P.gallery(category) for category in CATEGORIES]


# --- storage roots. Paths inside the pipeline's tables are relative to a root (item images to the data
# folder, generated images to the results folder). A job takes the root from its own input or output path (so it holds
# where storage is not shared and paths are rewritten), by removing the path's known tail — never by
# counting parents: a layout change that breaks the tail fails with a message, not silently.


def root_from(name, tail, **first):
    """A params function: the folder that the job's input or output ``name`` lies under, its path
    being ``<root>/<tail>`` (``tail`` formatted with the job's wildcards; a list: its first file, the
    wildcards a job per category lacks taken from ``first``)."""

    def root(wildcards, input, output):
        files = input if name in input.keys() else output
        value = files[name]
        path = Path(value if isinstance(value, str) else value[0])  # a list: its first file
        suffix = Path(tail.format(**{"category": CATEGORIES[0], **first, **dict(wildcards.items())}))
        if path.parts[-len(suffix.parts) :] != suffix.parts:
            raise ValueError(f"{name} path '{path}' does not end with '{suffix}': update root_from({name!r}, ...)")
        return str(Path(*path.parts[: -len(suffix.parts)]))

    return root


# the item covers' root, from the rec-items table a job reads (its image_path are relative to the data folder)
rec_items_root = root_from("rec_items", "interim/{category}/rec_items.parquet")


def download_url(wildcards):
    return source_url(wildcards.category, wildcards.kind)
