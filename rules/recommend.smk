# RecBench training: one job per category × variant trains every recommender at every missing rate and
# seed (a job's start — importing torch, initialising CUDA — costs more than a small run; the features
# are read once).


rule train_recommender:
    input:
        inter=P.inter("{category}"),
        item_map=P.rec("{category}", "i_id_mapping.csv"),
        features=P.features("{category}", "{variant}"),
    output:
        P.rec_result("{category}", "{variant}"),
    params:
        rates=variant_rates,
        recommenders=RECBENCH["recommenders"],
        settings=RECBENCH["train"],
        seeds=RECBENCH["seeds"],
        device=RECBENCH["device"],
        select_on=RECBENCH["select_on"],
    threads: job_threads("recbench")
    resources:
        **job_resources("recbench"),
    log:
        P.log("train_recommender", "{category}", "{variant}"),
    conda:
        "../envs/recsys.yaml"
    script:
        "../workflow_scripts/train_recommender.py"
