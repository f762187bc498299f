# Completion: every rec item of a category, I→T (text from the image) and T→I (image from the text).
# Two kinds of completion method (mmpcbench.completion.methods): the MLLMs of the registry, whose T→I
# prompts the diffusion step paints, and the borrowing methods (controls, baselines), each of which names
# the inputs it reads (method_input in common.smk).


rule complete_mllm:
    input:
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
        model=model_files,
    output:
        f"{RESULTS}/completions/{{task}}/{{category}}/{{model}}.parquet",
    params:
        entry=model_entry,
        request=completion_request,
        data_root=rec_items_root,
    threads: job_threads("models")
    resources:
        **job_resources("models"),
    log:
        f"{LOGS}/complete/{{task}}/{{category}}/{{model}}.log",
    conda:
        "../envs/mllm.yaml"
    script:
        "../workflow_scripts/complete_mllm.py"


rule diffuse:
    input:
        completions=f"{RESULTS}/completions/t2i/{{category}}/{{model}}.parquet",
        pipeline=diffusion_files,
    output:
        manifest=f"{RESULTS}/generated_images/{{category}}/{{model}}/manifest.parquet",
    params:
        settings=config["diffusion"],
        folder=f"{RESULTS}/generated_images/{{category}}/{{model}}",
        results_root=root_from("manifest", "generated_images/{category}/{model}/manifest.parquet"),
    threads: job_threads("diffusion")
    resources:
        **job_resources("diffusion"),
    log:
        f"{LOGS}/diffuse/{{category}}/{{model}}.log",
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
            f"{LOGS}/build_tiny_diffusion.log",
        conda:
            "../envs/diffusion.yaml"
        script:
            "../workflow_scripts/build_tiny_model.py"


# One rule per tiny registry entry, named and logged by the entry's name (its model path may be absolute).
for tiny_name, tiny_entry in TINY_MODELS.items():

    rule:
        name:
            f"build_tiny_model_{re.sub(r'[^A-Za-z0-9]+', '_', tiny_name)}"
        output:
            directory(tiny_entry["model"]),
        params:
            family=tiny_entry["family"],
        log:
            f"{LOGS}/build_tiny_model/{tiny_name}.log",
        conda:
            "../envs/mllm.yaml"
        script:
            "../workflow_scripts/build_tiny_model.py"


rule embed_items:
    input:
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
    output:
        f"{RESULTS}/embeddings/{{category}}/{{modality}}.parquet",
    params:
        spec=encoder_spec,
        data_root=rec_items_root,
    threads: job_threads("encoders")
    resources:
        **job_resources("encoders"),
    log:
        f"{LOGS}/embed_items/{{category}}/{{modality}}.log",
    conda:
        "../envs/encoders.yaml"
    script:
        "../workflow_scripts/embed_items.py"


rule complete_text_borrowed:
    input:
        unpack(borrowed_text_inputs),
    output:
        f"{RESULTS}/completions/i2t/{{category}}/{{borrowed}}.parquet",
    params:
        task="i2t",
        seed=config["completion"]["seed"],
    resources:
        runtime=10,  # minutes: seconds of CPU work (a SLURM group job sums its jobs' runtimes)
    log:
        f"{LOGS}/complete/i2t/{{category}}/{{borrowed}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/complete_borrowed.py"


rule complete_image_borrowed:
    input:
        unpack(borrowed_image_inputs),
    output:
        manifest=f"{RESULTS}/generated_images/{{category}}/{{borrowed}}/manifest.parquet",
    params:
        task="t2i",
        seed=config["completion"]["seed"],
        data_root=rec_items_root,
        folder=f"{RESULTS}/generated_images/{{category}}/{{borrowed}}",
        results_root=root_from("manifest", "generated_images/{category}/{borrowed}/manifest.parquet"),
    resources:
        runtime=10,  # minutes: seconds of CPU work (a SLURM group job sums its jobs' runtimes)
    log:
        f"{LOGS}/complete/t2i/{{category}}/{{borrowed}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/complete_borrowed.py"
