# GRPO: one job per (task, learning rate) trains LoRA adapters on the configured base MLLM with TRL's
# GRPOTrainer — the paper's learning-rate grid as parallel jobs — and grpo_select keeps the run with the
# best mean reward on the held-out tenth; the registry's adapter entries then complete like any other
# MLLM (complete_mllm depends on the chosen adapter).


localrules:
    grpo_select,


rule grpo_train:
    priority: 5  # a long chain waits on it: the adapters' completions, scores, features, training
    input:
        pools=expand(P.interim("{category}", "grpo_items.parquet"), category=CATEGORIES),
        base=grpo_base_files,
        reward_models=grpo_task_files,
    output:
        adapter=directory(P.grpo("{task}", "{base}", "lr_{lr}/adapter")),
        rewards=P.grpo("{task}", "{base}", "lr_{lr}/reward_log.parquet"),
        record=P.grpo("{task}", "{base}", "lr_{lr}/grpo.json"),
    wildcard_constraints:
        lr=GRPO_LR_PATTERN,
    params:
        entry=grpo_base_entry,
        request=completion_request,
        grpo=grpo_settings,
        reward_models=grpo_reward_models,
        data_root=root_from("pools", "interim/{category}/grpo_items.parquet"),
        learning_rate=lambda wildcards: float(wildcards.lr),
    threads: job_threads("grpo")
    resources:
        **job_resources("grpo"),
    log:
        P.log("grpo_train", "{task}", "{base}", "lr_{lr}"),
    conda:
        "../envs/mllm.yaml"
    script:
        "../workflow_scripts/grpo_train.py"


rule grpo_select:
    priority: 5  # a copy, and every adapter completion waits on it (at 0 it waited 100 s on the demo)
    input:
        records=lambda wildcards: [P.grpo(wildcards.task, wildcards.base, f"{folder}/grpo.json") for folder in GRPO_LR_FOLDERS],
        adapters=lambda wildcards: [P.grpo(wildcards.task, wildcards.base, f"{folder}/adapter") for folder in GRPO_LR_FOLDERS],
    output:
        adapter=directory(P.grpo("{task}", "{base}", "adapter")),
        rewards=P.grpo("{task}", "{base}", "reward_log.parquet"),
        record=P.grpo("{task}", "{base}", "grpo.json"),
    params:
        learning_rates=config["grpo"]["learning_rates"],
    log:
        P.log("grpo_select", "{task}", "{base}"),
    conda:
        "../envs/mllm.yaml"
    script:
        "../workflow_scripts/grpo_select.py"


if ADAPTERS:

    rule grpo_report:
        input:
            grpo_report_inputs(),
        output:
            **{f"{key}_{form}": P.table(name, form) for key, name in GRPO_TABLES.items()
               for form in ("csv", "tex")},
            **{f"{key}_md": report(P.table(name, "md"), caption="../report/grpo_table.rst", category="GRPO",
                                   labels={"table": name}) for key, name in GRPO_TABLES.items()},
            figure=report(P.figure("figureA5_grpo_rewards"), caption="../report/grpo_rewards.rst",
                          category="GRPO", labels={"figure": "Figure A.5"}),
            figure_data=P.figure_data("figureA5_grpo_rewards"),
        params:
            pairs=grpo_pairs(),
            bootstrap=config["metrics"]["bootstrap"],
            records=grpo_files("grpo.json"),
            reward_logs=grpo_files("reward_log.parquet"),
            # Table 7's reward row: the I→T training reward, computed by the GRPO stage's reward code (CPU)
            reward={"answer_key": config["completion"]["answer_keys"]["i2t"], "rewards": config["grpo"]["rewards"],
                    "encoder": {**config["encoders"]["text"], "device": "cpu"}},
        log:
            P.log("grpo_report"),
        conda:
            "../envs/metrics.yaml"
        script:
            "../workflow_scripts/grpo_report.py"
