"""Select the best model of one target x feature set, retrain it on all songs, write its bundle."""

import pandas as pd

from mer.bundle import export_model
from mer.data.layouts import dataset_layout
from mer.features import load_features
from mer.jobs import run_job
from mer.training import TrainConfig


def main(sm):
    export_model(
        sm.input.summaries,
        features=load_features(sm.input.values, sm.input.index),
        annotations=dataset_layout(sm.params.dataset).load_annotations(sm.input.raw),
        song_ids=pd.read_csv(sm.input.folds)["song_id"].to_numpy(),
        dataset=sm.params.dataset,
        target=sm.wildcards.target,
        feature_set=sm.wildcards.feature_set,
        compare_mode=sm.params.compare_mode,
        train_config=TrainConfig(seed=sm.params.seed, **sm.params.train),
        model_options_by_name=sm.params.model_options,
        params=sm.params.card_params,
        out_root=sm.output[0],
    )


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
