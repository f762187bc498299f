# RecBench training: a job trains every recommender at every missing rate and seed on one category ×
# variant — or, with one_job_per_category, on every variant of its category (a job's start, importing
# torch, costs more than a small run; the features are read once).


rule train_recommender:
    priority: REC_CHAIN_PRIORITY
    input:
        inter=P.inter("{category}"),
        item_map=P.rec("{category}", "i_id_mapping.csv"),
        features=per_job(P.features("{category}", "{variant}"), variant=VARIANTS),
    output:
        per_job(P.rec_result("{category}", "{variant}"), variant=VARIANTS),
    params:
        variants=variant_units,
        recommenders=RECBENCH["recommenders"],
        settings=RECBENCH["train"],
        seeds=RECBENCH["seeds"],
        device=RECBENCH["device"],
        select_on=RECBENCH["select_on"],
    threads: job_threads("recbench")
    resources:
        **job_resources("recbench"),
    log:
        job_log("train_recommender", "{category}", unit="{variant}"),
    conda:
        "../envs/recsys.yaml"
    script:
        "../workflow_scripts/train_recommender.py"
