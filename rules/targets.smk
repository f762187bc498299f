# Named targets: one per stage over every category, and one per category over every stage.
#   snakemake data_Video_Games     everything the data stages make for one category
#   snakemake complete_Video_Games every completion of one category
#   snakemake parsed               every category parsed
#   snakemake cq_Video_Games       CQBench scores of one category (every method, both tasks)
#   snakemake cq_model_gemma_3_4b  CQBench scores of one MLLM (every category, both tasks)
#   snakemake cqbench              the CQBench tables and radar charts
#   snakemake rec_Video_Games      RecBench results of one category (every variant, recommender, rate, seed)
#   snakemake rec_model_gemma_3_4b RecBench results of one MLLM (both tasks, every category)
#   snakemake recbench             the RecBench tables and figures


rule downloads:
    input:
        expand(P.raw("{category}", "{kind}"), category=CATEGORIES, kind=["reviews", "meta"]),


rule parsed:
    input:
        expand(P.interim("{category}", "items.parquet"), category=CATEGORIES),


rule images:
    input:
        expand(P.interim("{category}", "images.parquet"), category=CATEGORIES),


rule rec_sets:
    input:
        expand(P.interim("{category}", "rec_items.parquet"), category=CATEGORIES),


rule samples:
    input:
        expand(P.interim("{category}", f"{{sample}}_items.parquet"), category=CATEGORIES, sample=["cq", "grpo"]),


rule splits:
    input:
        expand(P.inter("{category}"), category=CATEGORIES),


rule completions:
    input:
        [path for category in CATEGORIES for path in completion_outputs(category)],


for _model in MODELS:

    rule:
        name:
            f"complete_model_{re.sub(r'[^A-Za-z0-9_]', '_', _model)}"
        input:
            model_outputs(_model),

    rule:
        name:
            f"cq_model_{re.sub(r'[^A-Za-z0-9_]', '_', _model)}"
        input:
            score_outputs(method=_model),

    rule:
        name:
            f"rec_model_{re.sub(r'[^A-Za-z0-9_]', '_', _model)}"
        input:
            [path for task in TASKS for path in rec_results(variant=f"{task}-{_model}")],


rule scores:
    input:
        score_outputs(),


rule cqbench:
    input:
        cq_table_outputs(),
        cq_figure_outputs(),


rule features_all:
    input:
        [P.features(category, variant) for category in CATEGORIES for variant in VARIANTS],


rule recbench:
    input:
        rec_table_outputs(),
        rec_figure_outputs(),


rule grpo:
    input:
        [path for task in config["grpo"]["tasks"] for path in (grpo_adapter(task, GRPO_BASE),
                                                               *grpo_files("grpo.json").values())],
        grpo_outputs(),


rule tables:
    input:
        rules.table1.output,
        rules.completion_status_table.output if MODELS else [],
        cq_table_outputs(),
        cq_figure_outputs(),
        rec_table_outputs(),
        rec_figure_outputs(),
        grpo_outputs(),


for _category in CATEGORIES:

    rule:
        name:
            f"data_{_category}"
        input:
            data_outputs(_category),

    rule:
        name:
            f"complete_{_category}"
        input:
            completion_outputs(_category),

    rule:
        name:
            f"cq_{_category}"
        input:
            score_outputs(category=_category),

    rule:
        name:
            f"rec_{_category}"
        input:
            rec_results(category=_category),
