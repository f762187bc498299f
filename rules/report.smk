# Tables and figures, regenerated from the files the stages wrote.


rule table1:
    input:
        splits=expand(P.rec("{category}", "split.parquet"), category=CATEGORIES),
        rec_sets=expand(P.interim("{category}", "rec_set.json"), category=CATEGORIES),
        cq=expand(P.interim("{category}", "cq_items.parquet"), category=CATEGORIES),
        grpo=expand(P.interim("{category}", "grpo_items.parquet"), category=CATEGORIES),
    output:
        csv=P.table("table1_dataset_stats", "csv"),
        md=report(P.table("table1_dataset_stats", "md"), caption="../report/table1.rst", category="Data"),
        tex=P.table("table1_dataset_stats", "tex"),
        provenance=P.table("table1_dataset_stats.provenance", "json"),
    params:
        categories=CATEGORIES,
    log:
        P.log("table1"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/table1.py"


rule completion_status_table:
    input:
        [P.completion(task, category, model) for model, category, task in MLLM_RUNS],
    output:
        csv=P.table("completion_parse_status", "csv"),
        md=report(
            P.table("completion_parse_status", "md"),
            caption="../report/completion_status.rst",
            category="Completion",
        ),
        tex=P.table("completion_parse_status", "tex"),
    params:
        runs=MLLM_RUNS,
    log:
        P.log("completion_status_table"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/completion_status_table.py"


rule cqbench_tables:
    input:
        score_outputs(),
    output:
        summary=P.cq_summary(),
        **{
            f"{key}_{form}": P.table(name, form)
            for key, name in CQ_TABLES.items()
            for form in ("csv", "tex")
        },
        **{
            f"{key}_md": report(
                P.table(name, "md"), caption="../report/cq_table.rst", category="CQBench", labels={"table": name}
            )
            for key, name in CQ_TABLES.items()
        },
    params:
        runs=cq_run_files(),
        bootstrap=config["metrics"]["bootstrap"],
        methods=METHODS,
    log:
        P.log("cqbench_tables"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/cqbench_tables.py"


rule cqbench_radar:
    input:
        i2t=P.table(families.Table.of('cqbench', 'i2t', 'full').stem, "csv"),
        t2i=P.table(families.Table.of('cqbench', 't2i', 'full').stem, "csv"),
    output:
        i2t=report(
            P.figure("figure3_cq_radar_i2t"),
            caption="../report/cq_radar.rst",
            category="CQBench",
            labels={"figure": "Figure 3 (I→T)"},
        ),
        t2i=report(
            P.figure("figure3_cq_radar_t2i"),
            caption="../report/cq_radar.rst",
            category="CQBench",
            labels={"figure": "Figure 3 (T→I)"},
        ),
        i2t_data=P.figure_data("figure3_cq_radar_i2t"),
        t2i_data=P.figure_data("figure3_cq_radar_t2i"),
    params:
        # the paper's polygons: the base MLLMs, who set each metric's range; dashed on their scale, the
        # GRPO adapters, the variants (a base run another way, e.g. served) and the baselines (the controls
        # bound the scale in the tables instead)
        models=[method for method in METHODS if METHOD_KIND[method] == "model"],
        others=[method for method in METHODS if METHOD_KIND[method] in ("adapter", "variant", "baseline")],
    log:
        P.log("cqbench_radar"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/cqbench_radar.py"


rule recbench_report:
    input:
        rec_results(),
    output:
        summary=P.rec_summary(),
        table6_csv=P.table("table6_rec_overview", "csv"),
        table6_tex=P.table("table6_rec_overview", "tex"),
        table6_md=report(
            P.table("table6_rec_overview", "md"), caption="../report/rec_table.rst", category="RecBench",
            labels={"table": "table6_rec_overview"},
        ),
        **{f"{key}_{form}": P.table(name, form) for key, name in REC_TABLES.items() for form in ("csv", "tex")},
        **{
            f"{key}_md": report(
                P.table(name, "md"), caption="../report/rec_table.rst", category="RecBench", labels={"table": name}
            )
            for key, name in REC_TABLES.items()
        },
        heatmap=report(
            P.figure("figure4_rec_heatmap"), caption="../report/rec_heatmap.rst", category="RecBench",
            labels={"figure": "Figure 4"},
        ),
        heatmap_data=P.figure_data("figure4_rec_heatmap"),
        rates=report(
            P.figure("rec_missing_rate"), caption="../report/rec_rates.rst", category="RecBench",
            labels={"figure": "Missing rate"},
        ),
    params:
        runs=rec_runs(),
        rate=RECBENCH["table_rate"],
        methods=REC_METHODS,
        kinds=REC_KIND,
        categories=CATEGORIES,
        recommenders=RECOMMENDERS,
        tasks=REC_TASKS,
        n_seeds=len(RECBENCH["seeds"]),
    log:
        P.log("recbench_report"),
    conda:
        "../envs/recsys.yaml"
    script:
        "../workflow_scripts/recbench_report.py"


# Calibration (beyond the paper): each benchmark's metrics against the graded corruptions of the ground
# truth (degraded{P} among the controls), and every method placed on that scale.
if CALIBRATION:

    rule calibration_report:
        input:
            cq_by_method=[P.table(families.Table.of("cqbench", task, "by_method").stem, "csv") for task in TASKS],
            rec_summary=[P.rec_summary()] if REC_TASKS else [],
        output:
            table_csv=P.table(CALIBRATION_TABLE, "csv"),
            table_tex=P.table(CALIBRATION_TABLE, "tex"),
            table_md=report(
                P.table(CALIBRATION_TABLE, "md"), caption="../report/calibration.rst", category="Calibration",
                labels={"table": CALIBRATION_TABLE},
            ),
            placement=P.table(f"{CALIBRATION_TABLE}_placement", "csv"),
            figure=report(
                P.figure("calibration"), caption="../report/calibration.rst", category="Calibration",
                labels={"figure": "Calibration"},
            ),
        params:
            kinds=REC_KIND,
        log:
            P.log("calibration_report"),
        conda:
            "../envs/metrics.yaml"
        script:
            "../workflow_scripts/calibration_report.py"


# Runs after every other output of `all`: what each job cost (its cost record beside its log), per
# stage × model × category; joined with sacct where the jobs ran under SLURM.
rule cost_ledger:
    input:
        all_outputs(),
    output:
        csv=P.table("cost_ledger", "csv"),
        md=report(P.table("cost_ledger", "md"), caption="../report/cost_ledger.rst", category="Cost"),
        tex=P.table("cost_ledger", "tex"),
    params:
        logs_dir=P.logs,
    log:
        P.log("cost_ledger"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/cost_ledger.py"


localrules:
    gallery,


# The gallery (mmpcbench/report/gallery.py): a category's sampled CQ items with every method's completed
# title and painted cover, statuses and scores; thumbnails embedded in one static page of the report.
rule gallery:
    input:
        cq_items=P.interim("{category}", "cq_items.parquet"),
        titles=[P.completion("i2t", "{category}", method) for method in METHODS],
        prompts=[P.completion("t2i", "{category}", method) for method in MODELS],
        manifests=[P.manifest("{category}", method) for method in METHODS],
        i2t_scores=[P.scores("i2t", "{category}", method) for method in METHODS],
        t2i_scores=[P.scores("t2i", "{category}", method) for method in METHODS],
    output:
        html=report(
            P.gallery("{category}"), caption="../report/gallery.rst", category="Gallery",
            labels={"category": "{category}"},
        ),
        thumbnails=directory(P.gallery("{category}", ext=None)),
    params:
        methods=METHODS,
        kinds=METHOD_KIND,
        prompted=MODELS,
        settings=config.get("gallery", {}),
        data_root=root_from("cq_items", "interim/{category}/cq_items.parquet"),
        results_root=root_from("manifests", "generated_images/{category}/{method}/manifest.parquet", method=METHODS[0]),
    log:
        P.log("gallery", "{category}"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/gallery.py"
