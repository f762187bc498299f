# Tables and figures, regenerated from the files the stages wrote.


rule table1:
    input:
        splits=expand(f"{DATA}/rec/{{category}}/split.parquet", category=CATEGORIES),
        rec_sets=expand(f"{DATA}/interim/{{category}}/rec_set.json", category=CATEGORIES),
        cq=expand(f"{DATA}/interim/{{category}}/cq_items.parquet", category=CATEGORIES),
        grpo=expand(f"{DATA}/interim/{{category}}/grpo_items.parquet", category=CATEGORIES),
    output:
        csv=f"{RESULTS}/tables/table1_dataset_stats.csv",
        md=report(f"{RESULTS}/tables/table1_dataset_stats.md", caption="../report/table1.rst", category="Data"),
        tex=f"{RESULTS}/tables/table1_dataset_stats.tex",
        provenance=f"{RESULTS}/tables/table1_dataset_stats.provenance.json",
    params:
        categories=CATEGORIES,
    log:
        f"{LOGS}/table1.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/table1.py"


rule completion_status_table:
    input:
        [f"{RESULTS}/completions/{task}/{category}/{model}.parquet" for model, category, task in MLLM_RUNS],
    output:
        csv=f"{RESULTS}/tables/completion_parse_status.csv",
        md=report(
            f"{RESULTS}/tables/completion_parse_status.md",
            caption="../report/completion_status.rst",
            category="Completion",
        ),
        tex=f"{RESULTS}/tables/completion_parse_status.tex",
    params:
        runs=MLLM_RUNS,
    log:
        f"{LOGS}/completion_status_table.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/completion_status_table.py"


rule cqbench_tables:
    input:
        score_outputs(),
    output:
        summary=f"{RESULTS}/scores/cqbench_summary.csv",
        **{
            f"{key}_{form}": f"{RESULTS}/tables/{name}.{form}"
            for key, name in CQ_TABLES.items()
            for form in ("csv", "tex")
        },
        **{
            f"{key}_md": report(
                f"{RESULTS}/tables/{name}.md", caption="../report/cq_table.rst", category="CQBench", labels={"table": name}
            )
            for key, name in CQ_TABLES.items()
        },
    params:
        runs=CQ_RUNS,
        score_root=root_from("summary", "cqbench_summary.csv"),
        bootstrap=config["metrics"]["bootstrap"],
        methods=METHODS,
    log:
        f"{LOGS}/cqbench_tables.log",
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/cqbench_tables.py"


rule cqbench_radar:
    input:
        i2t=f"{RESULTS}/tables/{families.Table.of('cqbench', 'i2t', 'by_method').stem}.csv",
        t2i=f"{RESULTS}/tables/{families.Table.of('cqbench', 't2i', 'by_method').stem}.csv",
    output:
        i2t=report(
            f"{RESULTS}/figures/figure3_cq_radar_i2t.png",
            caption="../report/cq_radar.rst",
            category="CQBench",
            labels={"figure": "Figure 3 (I→T)"},
        ),
        t2i=report(
            f"{RESULTS}/figures/figure3_cq_radar_t2i.png",
            caption="../report/cq_radar.rst",
            category="CQBench",
            labels={"figure": "Figure 3 (T→I)"},
        ),
    params:
        # the MLLMs and the baselines; the controls bound the scale in the tables instead
        methods=[method for method in METHODS if METHOD_KIND[method] != "control"],
    log:
        f"{LOGS}/cqbench_radar.log",
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/cqbench_radar.py"


rule recbench_report:
    input:
        rec_results(),
    output:
        summary=f"{RESULTS}/rec/recbench_summary.csv",
        table6_csv=f"{RESULTS}/tables/table6_rec_overview.csv",
        table6_tex=f"{RESULTS}/tables/table6_rec_overview.tex",
        table6_md=report(
            f"{RESULTS}/tables/table6_rec_overview.md", caption="../report/rec_table.rst", category="RecBench",
            labels={"table": "table6_rec_overview"},
        ),
        **{f"{key}_{form}": f"{RESULTS}/tables/{name}.{form}" for key, name in REC_TABLES.items() for form in ("csv", "tex")},
        **{
            f"{key}_md": report(
                f"{RESULTS}/tables/{name}.md", caption="../report/rec_table.rst", category="RecBench", labels={"table": name}
            )
            for key, name in REC_TABLES.items()
        },
        heatmap=report(
            f"{RESULTS}/figures/figure4_rec_heatmap.png", caption="../report/rec_heatmap.rst", category="RecBench",
            labels={"figure": "Figure 4"},
        ),
        rates=report(
            f"{RESULTS}/figures/rec_missing_rate.png", caption="../report/rec_rates.rst", category="RecBench",
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
        f"{LOGS}/recbench_report.log",
    conda:
        "../envs/recsys.yaml"
    script:
        "../workflow_scripts/recbench_report.py"


# Runs after every other output of `all`: what each job cost (its cost record beside its log), per
# stage × model × category; joined with sacct where the jobs ran under SLURM.
rule cost_ledger:
    input:
        all_outputs(),
    output:
        csv=f"{RESULTS}/tables/cost_ledger.csv",
        md=report(f"{RESULTS}/tables/cost_ledger.md", caption="../report/cost_ledger.rst", category="Cost"),
        tex=f"{RESULTS}/tables/cost_ledger.tex",
    params:
        logs_dir=LOGS,
    log:
        f"{LOGS}/cost_ledger.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/cost_ledger.py"
