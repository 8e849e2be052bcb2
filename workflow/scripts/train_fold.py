"""Train one model (target x feature set x model) with one training seed on one CV fold."""

import pandas as pd

from mer.cv import FoldOutputs, train_fold, training_seed
from mer.data.layouts import dataset_layout
from mer.features import load_features
from mer.jobs import run_job
from mer.training import TrainConfig


def main(sm):
    fold, seed_index = int(sm.wildcards.fold), int(sm.wildcards.seed_index)
    train_config = TrainConfig(seed=training_seed(sm.params.seed, fold, seed_index), **sm.params.train)
    train_fold(
        features=load_features(sm.input.values, sm.input.index),
        annotations=dataset_layout(sm.params.dataset).load_annotations(sm.input.raw),
        folds=pd.read_csv(sm.input.folds),
        fold=fold,
        target=sm.wildcards.target,
        model_name=sm.wildcards.model,
        train_config=train_config,
        model_options=sm.params.model_options,
        validation_fraction=sm.params.validation_fraction,
        seed=sm.params.seed,
        outputs=FoldOutputs(**{k: sm.output[k] for k in FoldOutputs.__dataclass_fields__}),
        dataset=sm.params.dataset,
        feature_set=sm.wildcards.feature_set,
        seed_index=seed_index,
        ridge_alphas=sm.params.ridge_alphas,
    )


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
