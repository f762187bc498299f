# RecBench features: each completion method's output embedded with the same encoders as the ground
# truth, then one feature set per variant and missing rate in MMRec's layout.


rule embed_completion:
    input:
        completion=completion_of,
        truth=truth_embeddings_of,
    output:
        embeddings=P.completion_embedding("{task}", "{category}", "{method}"),
    params:
        spec=completion_encoder,
        results_root=root_from("embeddings", "embeddings/{category}/{task}/{method}.parquet"),
    threads: job_threads("encoders")
    resources:
        **job_resources("encoders"),
    log:
        P.log("embed_completion", "{task}", "{category}", "{method}"),
    conda:
        "../envs/encoders.yaml"
    script:
        "../workflow_scripts/embed_completion.py"


rule features:
    input:
        unpack(variant_inputs),
    output:
        directory(P.features("{category}", "{variant}")),
    params:
        rates=variant_rates,
        seed=RECBENCH["mask_seed"],
        missing_completion=RECBENCH["missing_completion"],
        image_normalise=RECBENCH["features"]["image_normalise"],
        modalities=RECBENCH["features"]["modalities"],
        imputation_settings=imputation_settings_of,
    resources:
        runtime=10,  # minutes: seconds of CPU work (a SLURM group job sums its jobs' runtimes)
    log:
        P.log("features", "{category}", "{variant}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/features.py"
