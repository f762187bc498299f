# CQBench scoring: every completion method of every category, over the CQ sample. I→T texts against the
# real texts (TF-IDF cosine, Euclidean similarity, token overlap, BERTScore); T→I images against the
# real covers (PSNR, SSIM, MSE, LPIPS, CLIP; FID per method × category). A job scores one method, or
# with one_job_per_category every method of its category (each model loaded once).


rule score_text:
    input:
        cq_items=P.interim("{category}", "cq_items.parquet"),
        completions=per_job(P.completion("i2t", "{category}", "{method}"), method=METHODS),
    output:
        scores=per_job(P.scores("i2t", "{category}", "{method}"), method=METHODS),
        summary=per_job(P.scores("i2t", "{category}", "{method}", "json"), method=METHODS),
    params:
        methods=lambda wildcards: units(wildcards, "method", METHODS),
        options=config["metrics"]["text"],
        missing_policy=config["metrics"]["missing_policy"],
    threads: job_threads("metrics")
    resources:
        **job_resources("metrics"),
    log:
        job_log("score", "i2t", "{category}", unit="{method}"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/score_text.py"


rule score_image:
    input:
        cq_items=P.interim("{category}", "cq_items.parquet"),
        manifests=per_job(P.manifest("{category}", "{method}"), method=METHODS),
    output:
        scores=per_job(P.scores("t2i", "{category}", "{method}"), method=METHODS),
        summary=per_job(P.scores("t2i", "{category}", "{method}", "json"), method=METHODS),
    params:
        methods=lambda wildcards: units(wildcards, "method", METHODS),
        options=config["metrics"]["image"],
        missing_policy=config["metrics"]["missing_policy"],
        data_root=root_from("cq_items", "interim/{category}/cq_items.parquet"),
        results_root=root_from("manifests", "generated_images/{category}/{method}/manifest.parquet", method=METHODS[0]),
    threads: job_threads("metrics")
    resources:
        **job_resources("metrics"),
    log:
        job_log("score", "t2i", "{category}", unit="{method}"),
    conda:
        "../envs/metrics.yaml"
    script:
        "../workflow_scripts/score_image.py"
