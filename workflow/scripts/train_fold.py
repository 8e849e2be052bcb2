"""Train one model (``train_fold``) or a feature set's baselines (``train_baselines_<set>``)
on one CV fold with one training seed: one model per target, all models and targets in one
``train_fold_models`` call (features standardised once, ridge fitted once per model); each
model and target writes its own files."""

import pandas as pd

from mer.cv import FoldOutputs, train_fold_models, training_seed
from mer.data.layouts import dataset_layout
from mer.features import load_features
from mer.gpu_slots import claim_gpu
from mer.jobs import run_job
from mer.training import TrainConfig


def main(sm):
    claim_gpu(sm.params.train["device"])  # one of several GPUs, before CUDA starts
    fold, seed_index = int(sm.wildcards.fold), int(sm.wildcards.seed_index)
    baselines = hasattr(sm.params, "models")
    models = sm.params.models if baselines else [sm.wildcards.model]
    feature_set = sm.params.feature_set if baselines else sm.wildcards.feature_set
    train_config = TrainConfig(seed=training_seed(sm.params.seed, fold, seed_index), **sm.params.train)
    features = load_features(sm.input.values, sm.input.index)
    annotations = dataset_layout(sm.params.dataset).load_annotations(sm.input.raw)
    folds = pd.read_csv(sm.input.folds)
    prefixes = {model: f"{model}_" if baselines else "" for model in models}
    train_fold_models(
        features=features, annotations=annotations, folds=folds, fold=fold,
        targets=sm.params.targets, model_names=models, train_config=train_config,
        model_options=sm.params.model_options,
        validation_fraction=sm.params.validation_fraction, seed=sm.params.seed,
        outputs={model: {target: FoldOutputs(**{key: sm.output[f"{prefixes[model]}{target}_{key}"]
                                                for key in FoldOutputs.__dataclass_fields__})
                         for target in sm.params.targets} for model in models},
        dataset=sm.params.dataset, feature_set=feature_set, seed_index=seed_index,
        ridge_alphas=sm.params.ridge_alphas,
    )


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
