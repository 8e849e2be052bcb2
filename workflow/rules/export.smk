# Export: per target, the best model on the selected feature set, retrained on all songs,
# as a self-contained bundle for `mer predict` (see src/mer/bundle.py). The bundle folder
# is models/{dataset}/{target}/{feature_set}/{model}/; the model is chosen from the CV
# results, so the rule's output is the feature-set folder that holds it.


rule export:
    input:
        export_outputs(),


rule export_model:
    input:
        summaries=lambda wildcards: [
            f"{RESULTS}/{wildcards.target}/{wildcards.feature_set}/{model}/cv_summary.json"
            for model in models_on(wildcards.feature_set)
        ],
        raw=RAW,
        folds=f"{RESULTS}/folds.csv",
        values=f"{FEATURES}/{{feature_set}}.npy",
        index=f"{FEATURES}/{{feature_set}}.json",
    output:
        directory(f"models/{DATASET}/{{target}}/{{feature_set}}"),
    params:
        dataset=DATASET,
        seed=config["seed"],
        train=train_options(),
        model_options=model_options_by_name(),
        compare_mode=config["features"]["compare_mode"],
        card_params=export_card_params(),
    threads: 1
    resources:
        mem_mb=feature_memory_mb,
        runtime=export_runtime_min,
    log:
        f"{LOGS}/export/{{target}}/{{feature_set}}.log",
    benchmark:
        f"{LOGS}/export/{{target}}/{{feature_set}}.benchmark.tsv"
    script:
        "../scripts/export_model.py"
