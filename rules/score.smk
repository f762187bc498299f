# CQBench scoring: every completion method of every category, over the CQ sample. I→T texts against the
# real texts (TF-IDF cosine, Euclidean similarity, token overlap, BERTScore); T→I images against the
# real covers (PSNR, SSIM, MSE, LPIPS, CLIP; FID per method × category).


rule score_text:
    input:
        cq_items=f"{DATA}/interim/{{category}}/cq_items.parquet",
        completions=f"{RESULTS}/completions/i2t/{{category}}/{{method}}.parquet",
    output:
        scores=f"{RESULTS}/scores/i2t/{{category}}/{{method}}.parquet",
        summary=f"{RESULTS}/scores/i2t/{{category}}/{{method}}.json",
    params:
        options=config["metrics"]["text"],
        missing_policy=config["metrics"]["missing_policy"],
    threads: job_threads("metrics")
    resources:
        **job_resources("metrics"),
    log:
        f"{LOGS}/score/i2t/{{category}}/{{method}}.log",
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/score_text.py"


rule score_image:
    input:
        cq_items=f"{DATA}/interim/{{category}}/cq_items.parquet",
        manifest=f"{RESULTS}/generated_images/{{category}}/{{method}}/manifest.parquet",
    output:
        scores=f"{RESULTS}/scores/t2i/{{category}}/{{method}}.parquet",
        summary=f"{RESULTS}/scores/t2i/{{category}}/{{method}}.json",
    params:
        options=config["metrics"]["image"],
        missing_policy=config["metrics"]["missing_policy"],
        data_root=root_from("cq_items", "interim/{category}/cq_items.parquet"),
        results_root=root_from("manifest", "generated_images/{category}/{method}/manifest.parquet"),
    threads: job_threads("metrics")
    resources:
        **job_resources("metrics"),
    log:
        f"{LOGS}/score/t2i/{{category}}/{{method}}.log",
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/score_image.py"
