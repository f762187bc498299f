# Data stages: download -> parse -> select candidates -> fetch images -> rec set -> samples, split.


localrules:
    download,

# The data stages are seconds of work each, and every later stage of a category waits on them, GRPO
# on every category's pool: run them first whenever one is ready (Snakemake picks among ready jobs by
# priority; default 0). On the demo, a category's data stages otherwise waited behind the first
# category's model jobs and GRPO started in the last minute (docs/benchmarks.md).
DATA_PRIORITY = 10


rule download:
    priority: DATA_PRIORITY
    input:
        download_source,
    output:
        raw=f"{DATA}/raw/{{category}}/{{kind}}.jsonl.gz",
        manifest=f"{DATA}/raw/{{category}}/{{kind}}.manifest.json",
    params:
        url=download_url,
        settings=config["download"],
    log:
        f"{LOGS}/download/{{category}}_{{kind}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/download.py"


rule parse:
    priority: DATA_PRIORITY
    input:
        reviews=f"{DATA}/raw/{{category}}/reviews.jsonl.gz",
        meta=f"{DATA}/raw/{{category}}/meta.jsonl.gz",
    output:
        interactions=f"{DATA}/interim/{{category}}/interactions.parquet",
        catalogue=f"{DATA}/interim/{{category}}/items.parquet",
        report=f"{DATA}/interim/{{category}}/parse_report.json",
    params:
        settings=config["parse"],
    resources:
        mem_mb=8000,
        runtime=240,
    log:
        f"{LOGS}/parse/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/parse.py"


rule select_candidates:
    priority: DATA_PRIORITY
    input:
        interactions=f"{DATA}/interim/{{category}}/interactions.parquet",
        catalogue=f"{DATA}/interim/{{category}}/items.parquet",
    output:
        candidates=f"{DATA}/interim/{{category}}/candidates.parquet",
        interactions=f"{DATA}/interim/{{category}}/selection_interactions.parquet",
        report=f"{DATA}/interim/{{category}}/selection.json",
    params:
        selection=selection_of,
        url_field=config["images"]["url_field"],
    resources:
        mem_mb=16000,
        runtime=120,
    log:
        f"{LOGS}/select_candidates/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/select_candidates.py"


# Images are stored one file per item under DATA/images/{category}/ and reused when a job is
# re-run (counted as "cached" in the manifest); the manifest is the output and lists every item.
rule fetch_images:
    priority: DATA_PRIORITY
    input:
        candidates=f"{DATA}/interim/{{category}}/candidates.parquet",
    output:
        manifest=f"{DATA}/interim/{{category}}/images.parquet",
        failures=f"{DATA}/interim/{{category}}/image_failures.csv",
    params:
        folder=f"{DATA}/images/{{category}}",
        root=root_from("candidates", "interim/{category}/candidates.parquet"),
        settings=config["images"],
    threads: 2
    log:
        f"{LOGS}/fetch_images/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/fetch_images.py"


rule rec_set:
    priority: DATA_PRIORITY
    input:
        interactions=f"{DATA}/interim/{{category}}/interactions.parquet",
        selection_interactions=f"{DATA}/interim/{{category}}/selection_interactions.parquet",
        candidates=f"{DATA}/interim/{{category}}/candidates.parquet",
        images=f"{DATA}/interim/{{category}}/images.parquet",
    output:
        interactions=f"{DATA}/interim/{{category}}/rec_interactions.parquet",
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
        report=f"{DATA}/interim/{{category}}/rec_set.json",
    params:
        selection=selection_of,
    resources:
        mem_mb=16000,
    log:
        f"{LOGS}/rec_set/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/rec_set.py"


rule sample_cq:
    priority: DATA_PRIORITY
    input:
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
    output:
        f"{DATA}/interim/{{category}}/cq_items.parquet",
    params:
        n=config["sample"]["cq_items"],
        seed=config["sample"]["seed"],
    log:
        f"{LOGS}/sample_cq/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/sample_items.py"


# The GRPO training pool: eligible items of the category's catalogue outside the rec set (so never
# scored by CQBench or RecBench), with their covers fetched into the same image folder.
rule sample_grpo:
    priority: DATA_PRIORITY
    input:
        catalogue=f"{DATA}/interim/{{category}}/items.parquet",
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
    output:
        pool=f"{DATA}/interim/{{category}}/grpo_items.parquet",
        failures=f"{DATA}/interim/{{category}}/grpo_image_failures.csv",
    params:
        n=config["sample"]["grpo_items"],
        seed=config["sample"]["seed"] + 1,
        selection=selection_of,
        settings=config["images"],
        folder=f"{DATA}/images/{{category}}",
        root=root_from("pool", "interim/{category}/grpo_items.parquet"),
    threads: 2
    resources:
        mem_mb=16000,
    log:
        f"{LOGS}/sample_grpo/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/sample_grpo.py"


rule rec_split:
    priority: DATA_PRIORITY
    input:
        f"{DATA}/interim/{{category}}/rec_interactions.parquet",
    output:
        split=f"{DATA}/rec/{{category}}/split.parquet",
        inter=f"{DATA}/rec/{{category}}/{{category}}.inter",
        user_map=f"{DATA}/rec/{{category}}/u_id_mapping.csv",
        item_map=f"{DATA}/rec/{{category}}/i_id_mapping.csv",
        report=f"{DATA}/rec/{{category}}/split.json",
    params:
        order=config["split"]["order"],
        seed=config["split"]["seed"],
    log:
        f"{LOGS}/rec_split/{{category}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/rec_split.py"
