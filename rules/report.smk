# Tables and figures, regenerated from the files the stages wrote.


rule table1:
    input:
        splits=expand(f"{DATA}/rec/{{category}}/split.parquet", category=CATEGORIES),
        rec_sets=expand(f"{DATA}/interim/{{category}}/rec_set.json", category=CATEGORIES),
        cq=expand(f"{DATA}/interim/{{category}}/cq_items.parquet", category=CATEGORIES),
        grpo=expand(f"{DATA}/interim/{{category}}/grpo_items.parquet", category=CATEGORIES),
    output:
        csv=f"{RESULTS}/tables/table1_dataset_stats.csv",
        md=f"{RESULTS}/tables/table1_dataset_stats.md",
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
        md=f"{RESULTS}/tables/completion_parse_status.md",
    params:
        runs=MLLM_RUNS,
    log:
        f"{LOGS}/completion_status_table.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/completion_status_table.py"
