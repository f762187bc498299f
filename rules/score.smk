# CQBench scoring: every completion method of every category, over the CQ sample. I→T texts against the
# real texts (TF-IDF cosine, Euclidean similarity, token overlap, BERTScore); T→I images against the
# real covers (PSNR, SSIM, MSE, LPIPS, CLIP; FID per method × category).


rule score_text:
    input:
        cq_items=P.interim("{category}", "cq_items.parquet"),
        completions=P.completion("i2t", "{category}", "{method}"),
    output:
        scores=P.scores("i2t", "{category}", "{method}"),
        summary=P.scores("i2t", "{category}", "{method}", "json"),
    params:
        options=config["metrics"]["text"],
        missing_policy=config["metrics"]["missing_policy"],
    threads: job_threads("metrics")
    resources:
        **job_resources("metrics"),
    log:
        P.log("score", "i2t", "{category}", "{method}"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/score_text.py"


rule score_image:
    input:
        cq_items=P.interim("{category}", "cq_items.parquet"),
        manifest=P.manifest("{category}", "{method}"),
    output:
        scores=P.scores("t2i", "{category}", "{method}"),
        summary=P.scores("t2i", "{category}", "{method}", "json"),
    params:
        options=config["metrics"]["image"],
        missing_policy=config["metrics"]["missing_policy"],
        data_root=root_from("cq_items", "interim/{category}/cq_items.parquet"),
        results_root=root_from("manifest", "generated_images/{category}/{method}/manifest.parquet"),
    threads: job_threads("metrics")
    resources:
        **job_resources("metrics"),
    log:
        P.log("score", "t2i", "{category}", "{method}"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/score_image.py"
