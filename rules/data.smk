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
        raw=P.raw("{category}", "{kind}"),
        manifest=P.raw_manifest("{category}", "{kind}"),
    params:
        url=download_url,
        settings=config["download"],
    log:
        P.log("download", f"{{category}}_{{kind}}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/download.py"


rule parse:
    priority: DATA_PRIORITY
    input:
        reviews=P.raw("{category}", "reviews"),
        meta=P.raw("{category}", "meta"),
    output:
        interactions=P.interim("{category}", "interactions.parquet"),
        catalogue=P.interim("{category}", "items.parquet"),
        report=P.interim("{category}", "parse_report.json"),
    params:
        settings=config["parse"],
    resources:
        mem_mb=8000,
        runtime=240,
    log:
        P.log("parse", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/parse.py"


rule select_candidates:
    priority: DATA_PRIORITY
    input:
        interactions=P.interim("{category}", "interactions.parquet"),
        catalogue=P.interim("{category}", "items.parquet"),
    output:
        candidates=P.interim("{category}", "candidates.parquet"),
        interactions=P.interim("{category}", "selection_interactions.parquet"),
        report=P.interim("{category}", "selection.json"),
    params:
        selection=selection_of,
        url_field=config["images"]["url_field"],
    resources:
        mem_mb=16000,
        runtime=120,
    log:
        P.log("select_candidates", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/select_candidates.py"


# Images are stored one file per item under <data_dir>/images/{category}/ and reused when a job is
# re-run (counted as "cached" in the manifest); the manifest is the output and lists every item.
rule fetch_images:
    priority: DATA_PRIORITY
    input:
        candidates=P.interim("{category}", "candidates.parquet"),
    output:
        manifest=P.interim("{category}", "images.parquet"),
        failures=P.interim("{category}", "image_failures.csv"),
    params:
        folder=P.images("{category}"),
        root=root_from("candidates", "interim/{category}/candidates.parquet"),
        settings=config["images"],
    threads: 1  # downloads and file copies (images.workers threads), not compute: with 2 it waited for two idle cores
    log:
        P.log("fetch_images", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/fetch_images.py"


rule rec_set:
    priority: DATA_PRIORITY
    input:
        interactions=P.interim("{category}", "interactions.parquet"),
        selection_interactions=P.interim("{category}", "selection_interactions.parquet"),
        candidates=P.interim("{category}", "candidates.parquet"),
        images=P.interim("{category}", "images.parquet"),
    output:
        interactions=P.interim("{category}", "rec_interactions.parquet"),
        rec_items=P.interim("{category}", "rec_items.parquet"),
        report=P.interim("{category}", "rec_set.json"),
    params:
        selection=selection_of,
    resources:
        mem_mb=16000,
    log:
        P.log("rec_set", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/rec_set.py"


rule sample_cq:
    priority: DATA_PRIORITY
    input:
        rec_items=P.interim("{category}", "rec_items.parquet"),
    output:
        P.interim("{category}", "cq_items.parquet"),
    params:
        n=config["sample"]["cq_items"],
        seed=config["sample"]["seed"],
    log:
        P.log("sample_cq", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/sample_items.py"


# The GRPO training pool: eligible items of the category's catalogue outside the rec set (so never
# scored by CQBench or RecBench), with their covers fetched into the same image folder.
rule sample_grpo:
    priority: DATA_PRIORITY
    input:
        catalogue=P.interim("{category}", "items.parquet"),
        rec_items=P.interim("{category}", "rec_items.parquet"),
    output:
        pool=P.interim("{category}", "grpo_items.parquet"),
        failures=P.interim("{category}", "grpo_image_failures.csv"),
    params:
        n=config["sample"]["grpo_items"],
        seed=config["sample"]["seed"] + 1,
        selection=selection_of,
        settings=config["images"],
        folder=P.images("{category}"),
        root=root_from("pool", "interim/{category}/grpo_items.parquet"),
    threads: 1  # downloads and file copies (images.workers threads), not compute: with 2 it waited for two idle cores
    resources:
        mem_mb=16000,
    log:
        P.log("sample_grpo", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/sample_grpo.py"


rule rec_split:
    priority: DATA_PRIORITY
    input:
        P.interim("{category}", "rec_interactions.parquet"),
    output:
        split=P.rec("{category}", "split.parquet"),
        inter=P.inter("{category}"),
        user_map=P.rec("{category}", "u_id_mapping.csv"),
        item_map=P.rec("{category}", "i_id_mapping.csv"),
        report=P.rec("{category}", "split.json"),
    params:
        order=config["split"]["order"],
        seed=config["split"]["seed"],
    log:
        P.log("rec_split", "{category}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/rec_split.py"
