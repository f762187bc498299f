# Completion: every rec item of a category, I→T (text from the image) and T→I (image from the text).
# Methods so far: the controls (ground_truth, shuffled, empty). The MLLMs, the diffusion step and the
# retrieval baseline are the next part of the completion issue.


rule complete_text_control:
    input:
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
    output:
        f"{RESULTS}/completions/i2t/{{category}}/{{control}}.parquet",
    params:
        seed=config["completion"]["seed"],
    log:
        f"{LOGS}/complete/i2t/{{category}}/{{control}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/complete_text_control.py"


rule complete_image_control:
    input:
        rec_items=f"{DATA}/interim/{{category}}/rec_items.parquet",
    output:
        manifest=f"{RESULTS}/generated_images/{{category}}/{{control}}/manifest.parquet",
    params:
        seed=config["completion"]["seed"],
        data_root=DATA,
        folder=f"{RESULTS}/generated_images/{{category}}/{{control}}",
        results_root=RESULTS,
    log:
        f"{LOGS}/complete/t2i/{{category}}/{{control}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/complete_image_control.py"
