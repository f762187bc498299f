# Completion: every rec item of a category, I→T (text from the image) and T→I (image from the text).
# Two kinds of completion method (mmpcbench.completion.methods): the MLLMs of the registry, whose T→I
# prompts the diffusion step paints, and the borrowing methods (controls, baselines), each of which names
# the inputs it reads (method_input in common.smk).


# One job per task, or (one_job_per_category) one per model and category doing both tasks: the model is
# loaded, or its server started, once.
rule complete_mllm:
    input:
        rec_items=P.interim("{category}", "rec_items.parquet"),
        model=model_files,
    output:
        per_job(P.completion("{task}", "{category}", "{model}"), task=TASKS),
    params:
        units=completion_units,
        data_root=rec_items_root,
    threads: job_threads("models")
    resources:
        **job_resources("models"),
    log:
        # a served entry's server (serve:) logs beside the job: <log stem>.server.log
        P.log("complete", "{category}", "{model}") if PER_CATEGORY else P.log("complete", "{task}", "{category}", "{model}"),
    conda:
        "../envs/mllm.yaml"
    script:
        "../workflow_scripts/complete_mllm.py"


# One job per model and category, or (one_job_per_category) one per category painting every model's
# prompts with the pipeline loaded once.
rule diffuse:
    priority: REC_CHAIN_PRIORITY
    input:
        completions=per_job(P.completion("t2i", "{category}", "{model}"), model=MODELS),
        pipeline=diffusion_files,
    output:
        manifests=per_job(P.manifest("{category}", "{model}"), model=MODELS),
    params:
        units=diffusion_units,
        settings=config["diffusion"],
        results_root=root_from("manifests", "generated_images/{category}/{model}/manifest.parquet", model=next(iter(MODELS), None)),
    threads: job_threads("diffusion")
    resources:
        **job_resources("diffusion"),
    # on a cluster, the model's completion group (slurm/config.yaml); a category's job painting every
    # model has a group of its own
    group:
        "paint_{category}" if PER_CATEGORY else "mllm_{model}_{category}"
    log:
        job_log("diffuse", "{category}", unit="{model}"),
    conda:
        "../envs/diffusion.yaml"
    script:
        "../workflow_scripts/diffuse.py"


if config["diffusion"].get("build_tiny"):

    rule build_tiny_diffusion:
        output:
            directory(config["diffusion"]["model"]),
        params:
            family="sd3",
        log:
            P.log("build_tiny_diffusion"),
        conda:
            "../envs/diffusion.yaml"
        script:
            "../workflow_scripts/build_tiny_model.py"


# One rule per tiny registry entry, named and logged by the entry's name (its model path may be absolute).
for tiny_name, tiny_entry in TINY_MODELS.items():

    rule:
        name:
            f"build_tiny_model_{re.sub(r'[^A-Za-z0-9]+', '_', tiny_name)}"
        # first: a taught model is the MLLM completions' and GRPO's input, and teaching takes a minute
        priority: 10
        output:
            directory(tiny_entry["model"]),
        params:
            family=tiny_entry["family"],
            teach=tiny_entry.get("teach"),
            categories=CATEGORIES,
            prompts=config["completion"]["prompts"],
            answer_keys=config["completion"]["answer_keys"],
        log:
            P.log("build_tiny_model", tiny_name),
        conda:
            "../envs/mllm.yaml"
        script:
            "../workflow_scripts/build_tiny_model.py"


rule embed_items:
    input:
        rec_items=P.interim("{category}", "rec_items.parquet"),
    output:
        P.embedding("{category}", "{modality}"),
    params:
        spec=encoder_spec,
        data_root=rec_items_root,
    threads: job_threads("encoders")
    resources:
        **job_resources("encoders"),
    log:
        P.log("embed_items", "{category}", "{modality}"),
    conda:
        "../envs/encoders.yaml"
    script:
        "../workflow_scripts/embed_items.py"


# A job completes by one borrowing method, or with one_job_per_category by every one of its category.
rule complete_text_borrowed:
    input:
        unpack(borrowed_text_inputs),
    output:
        per_job(P.completion("i2t", "{category}", "{borrowed}"), borrowed=BORROWING),
    params:
        task="i2t",
        methods=lambda wildcards: units(wildcards, "borrowed", BORROWING),
        seed=config["completion"]["seed"],
    resources:
        runtime=10,  # minutes: seconds of CPU work (a SLURM group job sums its jobs' runtimes)
    log:
        job_log("complete", "i2t", "{category}", unit="{borrowed}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/complete_borrowed.py"


rule complete_image_borrowed:
    input:
        unpack(borrowed_image_inputs),
    output:
        manifests=per_job(P.manifest("{category}", "{borrowed}"), borrowed=BORROWING),
    params:
        task="t2i",
        methods=lambda wildcards: units(wildcards, "borrowed", BORROWING),
        seed=config["completion"]["seed"],
        data_root=rec_items_root,
        folders=borrowed_folders,
        results_root=root_from(
            "manifests", "generated_images/{category}/{borrowed}/manifest.parquet", borrowed=BORROWING[0]
        ),
    resources:
        runtime=10,  # minutes: seconds of CPU work (a SLURM group job sums its jobs' runtimes)
    log:
        job_log("complete", "t2i", "{category}", unit="{borrowed}"),
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/complete_borrowed.py"
