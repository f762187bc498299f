# RecBench features: each completion method's output embedded with the same encoders as the ground
# truth, then one feature set per variant and missing rate in MMRec's layout. A job runs one method or
# variant, or with one_job_per_category every one of its category (and task).


rule embed_completion:
    priority: REC_CHAIN_PRIORITY
    input:
        completions=completion_of,
        truth=truth_embeddings_of,
    output:
        embeddings=per_job(P.completion_embedding("{task}", "{category}", "{method}"), method=METHODS),
    params:
        methods=lambda wildcards: units(wildcards, "method", METHODS),
        spec=completion_encoder,
        results_root=root_from("embeddings", "embeddings/{category}/{task}/{method}.parquet", method=METHODS[0]),
    threads: job_threads("encoders")
    resources:
        **job_resources("encoders"),
    log:
        job_log("embed_completion", "{task}", "{category}", unit="{method}"),
    conda:
        "../envs/encoders.yaml"
    script:
        "../workflow_scripts/embed_completion.py"


rule features:
    priority: REC_CHAIN_PRIORITY
    input:
        unpack(variant_inputs),
    output:
        per_job(P.features("{category}", "{variant}"), flag=directory, variant=VARIANTS),
    params:
        variants=variant_units,
        seed=RECBENCH["mask_seed"],
        missing_completion=RECBENCH["missing_completion"],
        image_normalise=RECBENCH["features"]["image_normalise"],
        modalities=RECBENCH["features"]["modalities"],
    resources:
        runtime=10,  # minutes: seconds of CPU work (a SLURM group job sums its jobs' runtimes)
    log:
        job_log("features", "{category}", unit="{variant}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/features.py"
