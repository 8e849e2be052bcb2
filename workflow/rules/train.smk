# Stage 3: fold split, one training job per target x feature set x model x seed x fold,
# summaries. `seed{r}` is the r-th training seed (`train.seeds`); the fold split is shared.


from mer.models import is_baseline


rule train:
    input:
        cv_summaries(),
        f"{RESULTS}/dataset_notes.json",


def ridge_alphas(wildcards):
    """`train.ridge_alphas` for the ridge baselines, None for every other model (so that a
    new penalty grid reruns only the ridge jobs)."""
    family = parse_model_name(wildcards.model).family
    return config["train"]["ridge_alphas"] if family in ("RIDGE", "RIDGE_SONG") else None


rule split_folds:
    input:
        RAW,
    output:
        f"{RESULTS}/folds.csv",
    params:
        dataset=DATASET,
        split=config["cv"]["split"],
        folds=config["cv"]["folds"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    log:
        f"{LOGS}/split_folds.log",
    benchmark:
        f"{LOGS}/split_folds.benchmark.tsv"
    script:
        "../scripts/split_folds.py"


rule train_fold:
    input:
        raw=RAW,
        folds=f"{RESULTS}/folds.csv",
        values=f"{FEATURES}/{{feature_set}}.npy",
        index=f"{FEATURES}/{{feature_set}}.json",
    output:
        model=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}/model.pt",
        predictions=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}/predictions.csv",
        attention=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}/attention.npz",
        history=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}/history.csv",
        metrics=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}/metrics.json",
    params:
        dataset=DATASET,
        seed=config["seed"],
        validation_fraction=config["cv"]["validation_fraction"],
        train=train_options(),
        model_options=model_options,
        ridge_alphas=ridge_alphas,
    threads: 1
    resources:
        mem_mb=feature_memory_mb,
        gpu=train_gpus(),
        runtime=train_runtime_min,
    log:
        f"{LOGS}/train/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}.log",
    benchmark:
        f"{LOGS}/train/{{target}}/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}.benchmark.tsv"
    script:
        "../scripts/train_fold.py"


rule summarize_cv:
    input:
        metrics=expand(
            f"{RESULTS}/{{{{target}}}}/{{{{feature_set}}}}/{{{{model}}}}/seed{{seed_index}}/fold{{fold}}/metrics.json",
            seed_index=range(N_SEEDS),
            fold=range(N_FOLDS),
        ),
        predictions=expand(
            f"{RESULTS}/{{{{target}}}}/{{{{feature_set}}}}/{{{{model}}}}/seed{{seed_index}}/fold{{fold}}/predictions.csv",
            seed_index=range(N_SEEDS),
            fold=range(N_FOLDS),
        ),
    output:
        summary=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/cv_summary.json",
        predictions=f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/predictions.csv",
    params:
        dataset=DATASET,
        baseline=lambda wildcards: is_baseline(wildcards.model),  # known here: the job need not import torch
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        f"{LOGS}/train/{{target}}/{{feature_set}}/{{model}}/summarize_cv.log",
    benchmark:
        f"{LOGS}/train/{{target}}/{{feature_set}}/{{model}}/summarize_cv.benchmark.tsv"
    script:
        "../scripts/summarize_cv.py"
