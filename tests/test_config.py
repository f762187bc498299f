import copy
import os
import subprocess
import sys

import pytest
import yaml

from mmpcbench.config import ConfigError, load_config, model_kind, selection_for, validate_config
from conftest import REPO


@pytest.fixture
def paper_config():
    return load_config(REPO / "config.yaml")


def test_paper_config_is_valid_and_lists_the_nine_categories(paper_config):
    assert len(paper_config["categories"]) == 9
    assert paper_config["selection"]["strategy"] == "authors_code"
    assert paper_config["selection"]["text_field"] == "title"
    assert paper_config["sample"] == {"cq_items": 1000, "grpo_items": 500, "seed": 2026}


def _demo_over(paper_config: dict) -> dict:
    """The demo config merged over the paper's, as Snakemake merges ``--configfile``."""
    return _merged(paper_config, yaml.safe_load((REPO / "demo/config.yaml").read_text()))


def _merged(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base`` at every depth, by Snakemake's own merge of config files."""
    from snakemake.utils import update_config

    out = copy.deepcopy(base)
    update_config(out, over)
    return out


def test_demo_config_merged_over_paper_config_is_valid(paper_config):
    merged = _demo_over(paper_config)
    validate_config(merged)
    assert selection_for(merged, "Toys_and_Games")["strategy"] == "authors_code"
    assert selection_for(merged, "Video_Games")["strategy"] == "kcore"


def test_the_sensitivity_benchmarks_config_is_valid_and_keeps_the_paper_recbench(paper_config, tmp_path):
    """benchmarks/sensitivity.py runs the pipeline on its own config: valid, one 5-core category, the
    controls only, and the paper config's RecBench schedule and seeds."""
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location("sensitivity", REPO / "benchmarks/sensitivity.py")
    sensitivity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sensitivity)
    args = argparse.Namespace(scale=0.1, device="cpu", workdir=tmp_path, category="Video_Games",
                              seeds=[999, 1000, 1001], seed=7, normalise=False, epochs=None, cores=2)
    config = _merged(paper_config, sensitivity.run_config(args))
    validate_config(config)
    assert config["categories"] == ["Video_Games"] and selection_for(config, "Video_Games")["strategy"] == "kcore"
    assert config["completion"]["models"] == [] and "degraded50" in config["completion"]["controls"]
    paper = paper_config["recbench"]
    assert config["recbench"]["seeds"] == paper["seeds"] and config["recbench"]["features"] == paper["features"]
    assert {k: config["recbench"]["train"][k] for k in paper["train"]} == paper["train"]
    assert config["demo"]["n_items"] == 705
    # and Snakemake plans it: a config with no MLLM (the controls only) has no completion or painting job
    path = tmp_path / "sensitivity.yaml"
    path.write_text(yaml.safe_dump(sensitivity.run_config(args), sort_keys=False))
    target = tmp_path / "results/tables/tableC1_calibration.md"
    plan = subprocess.run([sys.executable, "-m", "snakemake", str(target), "-n", "--quiet", "rules", "--cores", "2",
                           "--configfile", str(path)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert "train_recommender" in plan.stdout and "calibration_report" in plan.stdout
    assert "complete_mllm" not in plan.stdout and "diffuse" not in plan.stdout


def test_unknown_nested_key_is_named(paper_config):
    paper_config["selection"]["kcore"]["kk"] = 3
    with pytest.raises(ConfigError, match=r"selection\.kcore.*\['kk'\]"):
        validate_config(paper_config)


def test_ill_typed_key_is_named(paper_config):
    paper_config["sample"]["cq_items"] = "1000"
    with pytest.raises(ConfigError, match=r"'sample\.cq_items'.*not of type 'integer'"):
        validate_config(paper_config)


def test_bad_enum_value_is_named(paper_config):
    paper_config["split"]["order"] = "sideways"
    with pytest.raises(ConfigError, match=r"'split\.order'"):
        validate_config(paper_config)


def test_override_for_a_category_not_configured_fails(paper_config):
    paper_config["selection"]["category_overrides"] = {"Garden": {"kcore": {"k": 3}}}
    with pytest.raises(ConfigError, match="Garden"):
        validate_config(paper_config)


def test_category_override_merges_nested_keys(paper_config):
    paper_config["selection"]["category_overrides"] = {"All_Beauty": {"strategy": "kcore", "kcore": {"k": 3}}}
    validate_config(paper_config)
    view = selection_for(paper_config, "All_Beauty")
    assert view["strategy"] == "kcore" and view["kcore"]["k"] == 3 and view["kcore"]["seed"] == 2026
    assert selection_for(paper_config, "Video_Games")["kcore"]["k"] == 5


def test_an_unregistered_control_is_named_with_the_known_ones(paper_config):
    config = copy.deepcopy(paper_config)
    config["completion"]["controls"] = ["ground_truth", "reversed"]
    with pytest.raises(ConfigError, match=r"completion.controls.*'reversed'.*known: \['empty', 'ground_truth'.*'degraded<P>'"):
        validate_config(config)


def test_a_control_listed_as_baseline_is_refused(paper_config):
    config = copy.deepcopy(paper_config)
    config["completion"]["baselines"] = ["retrieval", "shuffled"]
    with pytest.raises(ConfigError, match=r"completion.baselines.*'shuffled' is a control, not a baseline; known baselines: \['retrieval'\]"):
        validate_config(config)


def test_resources_without_cpus_get_one_cpu(paper_config):
    config = copy.deepcopy(paper_config)
    del config["diffusion"]["resources"]["cpus_per_task"]
    first = next(iter(config["models"]))
    config["models"][first]["resources"].pop("cpus_per_task", None)
    validate_config(config)
    assert config["diffusion"]["resources"]["cpus_per_task"] == 1
    assert config["models"][first]["resources"]["cpus_per_task"] == 1
    assert config["recbench"]["resources"]["cpus_per_task"] == 4  # a given value is kept


def test_a_grpo_adapter_entry_takes_its_base_settings(paper_config):
    adapter = paper_config["models"]["qwen2.5-vl-7b-grpo"]
    base = paper_config["models"]["qwen2.5-vl-7b"]
    assert adapter["adapter"] == "grpo" and adapter["base"] == "qwen2.5-vl-7b"
    assert {k: adapter[k] for k in base} == base


def test_a_grpo_base_that_is_not_in_the_registry_is_named(paper_config):
    paper_config["grpo"]["base"] = "qwen-7b"
    with pytest.raises(ConfigError, match=r"grpo\.base.*'qwen-7b'"):
        validate_config(paper_config)


def test_an_adapter_over_an_unknown_base_is_named():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["models"]["qwen2.5-vl-7b-grpo"]["base"] = "qwen-7b"
    with pytest.raises(ConfigError, match=r"models\.qwen2\.5-vl-7b-grpo\.base.*'qwen-7b'"):
        validate_config(config)


def test_an_unknown_grpo_key_is_named(paper_config):
    paper_config["grpo"]["group_size"] = 16
    with pytest.raises(ConfigError, match=r"grpo.*\['group_size'\]"):
        validate_config(paper_config)


def test_an_unknown_category_is_refused_with_the_known_names(paper_config):
    """A misspelt category used to validate and plan ten jobs, failing only at the download."""
    paper_config["categories"] = ["Toys_and_Games", "Video_Gamez"]
    with pytest.raises(ConfigError, match=r"'categories': unknown category \['Video_Gamez'\]; known in Amazon "
                                          r"Reviews 2023: \[.*'Video_Games'.*\]"):
        validate_config(paper_config)
    paper_config["categories"] = ["Unknown", "Health_and_Personal_Care"]  # real, if not the paper's
    validate_config(paper_config)


def test_the_demo_knows_only_its_own_categories(paper_config):
    demo = _demo_over(paper_config)
    demo["categories"] = ["Books"]  # an Amazon category the demo cannot generate
    with pytest.raises(ConfigError, match=r"unknown category \['Books'\]; known in the demo's vocabulary: "
                                          r"\['All_Beauty', .*'Video_Games'\]"):
        validate_config(demo)


def test_teaching_a_model_the_pipeline_does_not_build_is_refused(paper_config):
    config = copy.deepcopy(paper_config)
    config["models"]["gemma-3-4b"]["teach"] = {"steps": 10}
    with pytest.raises(ConfigError, match=r"models\.gemma-3-4b\.teach.*build_tiny"):
        validate_config(config)


def test_an_unknown_teach_setting_is_named(paper_config):
    config = _demo_over(paper_config)
    config["models"]["tiny-gemma-3"]["teach"]["epochs"] = 3
    with pytest.raises(ConfigError, match=r"tiny-gemma-3.*teach.*epochs"):
        validate_config(config)


@pytest.mark.parametrize("trainer, group, whole", [
    ({"per_device_train_batch_size": 3}, 4, False), ({"per_device_train_batch_size": 3}, 3, True),
    ({"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3}, 4, False),
    ({"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3}, 6, True),
    ({"per_device_train_batch_size": 2, "generation_batch_size": 6}, 4, False),
    ({"per_device_train_batch_size": 2, "generation_batch_size": 8}, 4, True)])
def test_a_grpo_batch_of_partial_groups_is_refused_before_the_job(paper_config, trainer, group, whole):
    """TRL's rule, checked when the config is read (it failed inside the job before): without
    prompts_per_step, the trainer's own batch settings."""
    config = _demo_over(paper_config)
    del config["grpo"]["prompts_per_step"]
    config["grpo"]["trainer"] = {**config["grpo"]["trainer"], **trainer}
    config["grpo"]["num_generations"] = group
    if whole:
        validate_config(config)
    else:
        with pytest.raises(ConfigError, match=rf"'grpo'.*trainer.*not a multiple of the group size.*\({group}\)"):
            validate_config(config)


@pytest.mark.parametrize("change, message", [
    ({"prompts_per_step": 4, "trainer": {"gradient_accumulation_steps": 2}}, r"prompts_per_step.*gradient_accumulation"),
    ({"prompts_per_step": 3, "num_generations": 4, "trainer": {"per_device_train_batch_size": 8}},
     r"3 × 4 completions.*per_device_train_batch_size \(8\)"),
    ({"passes": 2, "trainer": {"max_steps": 10}}, r"passes.*max_steps"),
    ({"passes": {"i2t": 2, "t2i": 1}, "trainer": {"max_steps": 10}}, r"passes.*max_steps"),
    ({"passes": {"i2t": 2}}, r"grpo\.passes.*every task"),
    ({"passes": {"i2t": 2, "t2i": 1, "t2v": 1}}, r"grpo\.passes.*t2v.*every task")])
def test_a_grpo_schedule_that_cannot_be_met_is_refused(paper_config, change, message):
    config = _demo_over(paper_config)
    trainer = {k: v for k, v in config["grpo"]["trainer"].items() if k not in ("max_steps", "gradient_accumulation_steps")}
    config["grpo"] = {**config["grpo"], **change, "trainer": {**trainer, **change.get("trainer", {})}}
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_the_grpo_schedule_in_prompts_per_step_and_passes():
    """P prompts per step: accumulation over micro-batches; E passes over the training items: the steps."""
    from mmpcbench.grpo.schedule import for_task, planned_steps, prompts_per_step, trainer_schedule

    paper = {"num_generations": 16, "prompts_per_step": 4, "passes": 1,
             "trainer": {"per_device_train_batch_size": 16}}
    assert trainer_schedule(paper, 4050) == {"gradient_accumulation_steps": 4, "max_steps": 1013}
    assert planned_steps({**paper, "passes": 0.5}, 4050) == 507
    # without the schedule keys: TRL's own batch settings, one prompt per 16 completions
    plain = {"num_generations": 16, "trainer": {"per_device_train_batch_size": 16, "max_steps": 1000}}
    assert trainer_schedule(plain, 4050) == {} and prompts_per_step(plain) == 1 and planned_steps(plain, 4050) == 1000
    # passes per task: the task's
    per_task = {**paper, "passes": {"i2t": 2, "t2i": 0.1}}
    assert planned_steps(for_task(per_task, "i2t"), 4050) == 2025 and planned_steps(for_task(per_task, "t2i"), 4050) == 102
    assert prompts_per_step({"num_generations": 4, "trainer": {"per_device_train_batch_size": 4,
                                                               "gradient_accumulation_steps": 3}}) == 3


SERVED = {"engine": "openai", "model": "Qwen/Qwen2.5-VL-7B-Instruct", "family": "qwen2_5_vl",
          "max_new_tokens": {"i2t": 8, "t2i": 8}, "resources": {"gpu": 1, "mem_mb": 1000, "runtime": 10}}


@pytest.mark.parametrize("entry, message", [
    ({}, r"'models.served': a served entry needs either base_url .* or serve .*not neither"),
    ({"base_url": "http://h:1/v1", "serve": "vllm"}, r"not both"),
    ({"serve": "sglang"}, r"'models.served.serve': unknown model server 'sglang'; known: \['transformers', 'vllm'\]"),
    ({"engine": "grpc", "base_url": "http://h:1/v1"}, r"'models.served.engine': unknown MLLM engine 'grpc'; known: "
                                                      r"\['openai', 'transformers'\]"),
    ({"base_url": "http://h:1/v1", "max_model_len": 4096}, r"'models.served.max_model_len': only an entry whose job "
                                                           r"starts its server"),
    ({"base_url": "http://h:1/v1", "generation": {"num_beams": 4}}, r"'models.served.generation': \['num_beams'\] "
                                                                    r"have no chat-completion request field"),
    ({"base_url": "ftp://h/v1"}, r"'models.served.base_url': 'ftp://h/v1' does not match"),
    ({"engine": "transformers", "base_url": "http://h:1/v1"}, r"\['base_url'\] are settings of a served entry"),
])
def test_a_served_entry_is_checked(paper_config, entry, message):
    config = copy.deepcopy(paper_config)
    config["models"]["served"] = {**SERVED, **entry}
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_a_served_entry_over_a_base_takes_its_settings(paper_config):
    config = copy.deepcopy(paper_config)
    config["models"]["served"] = {"base": "qwen2.5-vl-7b", "engine": "openai", "serve": "vllm", "quantization": "none"}
    config["models"]["endpoint"] = {**SERVED, "base_url": "https://api.example.com/v1", "api_key_env": "MY_KEY"}
    validate_config(config)
    served = config["models"]["served"]
    assert served["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and served["quantization"] == "none"
    assert served["max_new_tokens"] == {"i2t": 128, "t2i": 256}
    config["models"]["served-adapter"] = {"base": "qwen2.5-vl-7b", "adapter": "grpo", "engine": "openai", "serve": "vllm"}
    with pytest.raises(ConfigError, match="'models.served-adapter.engine': a GRPO adapter completes in-process"):
        validate_config(config)


def test_a_served_variant_of_a_listed_base_is_set_apart_from_the_models(paper_config):
    """A model's rows are averaged into Tables 4/5 and Table 6's best MLLM only if it is a model of its own:
    an entry over a base that is itself listed (the same weights, served) would count that base twice."""
    config = copy.deepcopy(paper_config)
    config["models"]["served"] = {"base": "qwen2.5-vl-7b", "engine": "openai", "serve": "vllm"}
    config["models"]["qwen2.5-vl-7b-grpo"] = {"base": "qwen2.5-vl-7b", "adapter": "grpo"}
    config["completion"]["models"] = ["qwen2.5-vl-7b", "served", "qwen2.5-vl-7b-grpo"]
    validate_config(config)
    assert [model_kind(config, name) for name in config["completion"]["models"]] == ["model", "variant", "adapter"]
    config["completion"]["models"] = ["served"]  # the only run of those weights: a model
    assert model_kind(config, "served") == "model"
