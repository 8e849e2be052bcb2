"""Which step size trains in the quick grid's budget? Train on folds of a finished run.

    .venv/bin/python benchmarks/step_size.py                   # after `make run`: ComParE, arousal
    .venv/bin/python benchmarks/step_size.py --models AT_32 --rates 0.001 0.01 \\
        --combos torch/outside keras/inside --folds 0 1 2

Reads the dataset, folds and features of the run in the working copy (``--root``, default
.), and trains each (model, init/eps, learning rate) on ``--folds`` exactly as a
``train_fold`` job would (``mer.cv.train_fold``, the grid's other settings from
params.yaml, one thread), writing into a temporary folder. Prints one markdown row per
setting: mean over the folds of test R², within-song R², τ̄, epochs run, how many runs early
stopping ended before ``max_epochs``, the attention concentration of AT / BAT models
(share of the received attention on the top 10 % of frames, beside flat attention's) and
CPU seconds per run. It measures whether a setting *trains* in this budget; the fold
spread is large with 20 test songs, so read differences below ~0.1 of R² as noise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--feature-set", default="compare")
    parser.add_argument("--target", default="arousal")
    parser.add_argument("--models", nargs="+", default=["LSTM_32", "AT_32", "BAT_32", "TRANSFORMER_1"])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.001, 0.003, 0.01])
    parser.add_argument("--combos", nargs="+", default=["torch/outside"], help="init/eps pairs")
    parser.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()

    import pandas as pd
    import torch

    from mer.config import grid_max_epochs, grid_train, read_params_yaml
    from mer.cv import FoldOutputs, train_fold
    from mer.data.layouts import dataset_layout
    from mer.features import load_features
    from mer.reports.claims import attention_concentration
    from mer.training import TrainConfig

    torch.set_num_threads(1)
    params = read_params_yaml(args.root / "params.yaml")
    dataset, train = params["dataset"], grid_train(params)
    features_dir = args.root / "data/features" / dataset
    features = load_features(features_dir / f"{args.feature_set}.npy", features_dir / f"{args.feature_set}.json")
    annotations = dataset_layout(dataset).load_annotations(args.root / "data/raw" / dataset)
    folds = pd.read_csv(args.root / "results" / dataset / "folds.csv")
    keys = ("batch_size", "rho", "eps", "patience", "min_delta", "feedback")
    max_epochs = grid_max_epochs(params)
    print(f"{dataset}: {len(folds)} songs, {folds['fold'].nunique()} folds (run {args.folds}), "
          f"{args.feature_set}, {args.target}, max_epochs {max_epochs}\n")
    print("| model | init / eps | learning rate | test R² | within-song R² | τ̄ | epochs | early-stopped "
          "| top-10 % share (flat) | CPU-s / run |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for model in args.models:
        options = dict(params["train"]["transformer"]) if model.startswith("TRANSFORMER") else {}
        for combo in args.combos:
            init, eps_place = combo.split("/")
            for rate in args.rates:
                rows = []
                for fold in args.folds:
                    config = TrainConfig(seed=fold, max_epochs=max_epochs, learning_rate=rate, init=init,
                                         rmsprop_eps=eps_place, **{k: train[k] for k in keys})
                    with tempfile.TemporaryDirectory() as tmp:
                        outputs = FoldOutputs(**{k: Path(tmp) / k for k in FoldOutputs.__dataclass_fields__})
                        started = time.process_time()
                        m = train_fold(features=features, annotations=annotations, folds=folds, fold=fold,
                                       target=args.target, model_name=model, train_config=config,
                                       model_options=options, validation_fraction=params["cv"]["validation_fraction"],
                                       seed=params["seed"], outputs=outputs)
                        cpu = time.process_time() - started
                        share = flat = np.nan
                        if model.startswith(("AT_", "BAT_")):
                            with np.load(outputs.attention) as saved:
                                maps = saved["weights"].reshape(-1, 61, 61)
                            c = attention_concentration({i: (w.sum(axis=0), None) for i, w in enumerate(maps)},
                                                        causal=model.startswith("BAT_"))
                            share, flat = c["top_share"], c["uniform_top_share"]
                    rows.append((m["r2"], m["r2_within"], m["tau"], m["epochs"], m["epochs"] < max_epochs,
                                 share, flat, cpu))
                a = np.array(rows, float)
                attention = "–" if np.isnan(a[0, 5]) else f"{a[:, 5].mean():.1%} ({a[0, 6]:.1%})"
                print(f"| {model} | {combo} | {rate:g} | {a[:, 0].mean():.2f} | {a[:, 1].mean():.1f} | "
                      f"{a[:, 2].mean():.3f} | {a[:, 3].mean():.1f} | {int(a[:, 4].sum())}/{len(a)} | "
                      f"{attention} | {a[:, 7].mean():.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
