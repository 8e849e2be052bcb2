# Stage 3: fold split; one training job per feature set x model x seed x fold (it trains
# that model for every target: the features load and torch imports once, ~3 CPU-s a job);
# the closed-form baselines of a feature set share one job per seed x fold; one summary
# job. `seed{r}` is the r-th training seed (`train.seeds`); the fold split is shared.


from types import SimpleNamespace

from mer.models import is_baseline


rule train:
    input:
        cv_summaries(),
        f"{RESULTS}/dataset_notes.json",


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


FOLD_FILES = ("model", "predictions", "attention", "history", "metrics")
FOLD_FILE_NAMES = {"model": "model.pt", "predictions": "predictions.csv", "attention": "attention.npz",
                   "history": "history.csv", "metrics": "metrics.json"}


def fold_outputs(model, feature_set="{feature_set}"):
    """The five files of one fold for every target, named ``<target>_<file>`` (one job
    trains the model of each target: it loads the features and pays torch's import once)."""
    return {f"{target}_{name}": f"{RESULTS}/{target}/{feature_set}/{model}/seed{{seed_index}}/fold{{fold}}/{FOLD_FILE_NAMES[name]}"
            for target in TARGETS for name in FOLD_FILES}


def fold_inputs(feature_set="{feature_set}"):
    return dict(raw=RAW, folds=f"{RESULTS}/folds.csv", values=f"{FEATURES}/{feature_set}.npy",
                index=f"{FEATURES}/{feature_set}.json")


NETWORK_MODELS = [model for model in MODELS if not is_baseline(model)]


# One job per feature set x network x training seed x fold, training one model per target.
rule train_fold:
    input:
        **fold_inputs(),
    output:
        **fold_outputs("{model}"),
    wildcard_constraints:
        model=one_of(NETWORK_MODELS),  # baselines: train_baselines_<set> below
    params:
        dataset=DATASET,
        targets=TARGETS,
        seed=config["seed"],
        validation_fraction=config["cv"]["validation_fraction"],
        train=train_options(),
        model_options=model_options,
        ridge_alphas=None,
    threads: 1
    resources:
        mem_mb=feature_memory_mb,
        gpu=train_gpus(),
        # one of the machine's `gpu_slots` (profiles/gpu) per job on CUDA, so that N slots
        # per GPU let N jobs share a card; 0 on the CPU (never held back by the slots)
        gpu_slots=train_gpus(),
        runtime=train_runtime_min,
    log:
        f"{LOGS}/train/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}.log",
    benchmark:
        f"{LOGS}/train/{{feature_set}}/{{model}}/seed{{seed_index}}/fold{{fold}}.benchmark.tsv"
    script:
        "../scripts/train_fold.py"


# The closed-form baselines of one feature set, all in one job per training seed x fold
# (seconds of fitting after ~3 CPU-s of imports and the feature table's load): a rule per
# feature set, since a rule's outputs cannot depend on a wildcard. Same files as train_fold.
for _set in FEATURE_SETS:
    _baselines = [model for model in models_on(_set) if is_baseline(model)]
    if not _baselines:
        continue

    rule:
        name:
            f"train_baselines_{_set}"
        input:
            **fold_inputs(_set),
        output:
            **{f"{model}_{key}": path for model in _baselines
               for key, path in fold_outputs(model, _set).items()},
        params:
            dataset=DATASET,
            targets=TARGETS,
            models=_baselines,
            feature_set=_set,
            seed=config["seed"],
            validation_fraction=config["cv"]["validation_fraction"],
            train=train_options(),
            model_options={},
            ridge_alphas=config["train"]["ridge_alphas"],
        threads: 1
        resources:
            mem_mb=lambda wildcards, _set=_set: feature_memory_mb(SimpleNamespace(feature_set=_set)),
            gpu=0,
            gpu_slots=0,
            runtime=10,
        log:
            f"{LOGS}/train/{_set}/baselines/seed{{seed_index}}/fold{{fold}}.log",
        benchmark:
            f"{LOGS}/train/{_set}/baselines/seed{{seed_index}}/fold{{fold}}.benchmark.tsv"
        script:
            "../scripts/train_fold.py"


# One job summarises every run of the grid (a fraction of a second each, no torch).
rule summarize_cv:
    input:
        metrics=fold_files("metrics.json", MODELS),
        predictions=fold_files("predictions.csv", MODELS),
    output:
        summaries=run_files("cv_summary.json"),
        predictions=run_files("predictions.csv"),
    params:
        dataset=DATASET,
        runs=[dict(target=target, feature_set=feature_set, model=model, baseline=is_baseline(model))
              for target in TARGETS for feature_set, model in RUNS],
        results=RESULTS,
        max_epochs=MAX_EPOCHS,
        folds=N_FOLDS,
        seeds=N_SEEDS,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{LOGS}/train/summarize_cv.log",
    benchmark:
        f"{LOGS}/train/summarize_cv.benchmark.tsv"
    script:
        "../scripts/summarize_cv.py"
