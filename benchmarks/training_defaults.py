"""The paper's training defaults and their effect: init (keras | torch) x RMSprop eps
(inside | outside), at a scale where the networks train.

    nice .venv/bin/python benchmarks/training_defaults.py                    # 300 songs, 5-fold
    nice .venv/bin/python benchmarks/training_defaults.py --min-folds 3 --budget-min 20

Generates the built-in synthetic dataset (``mer.data.synthetic``, cached under ``--work``),
extracts its ``spectral`` features once with the pipeline's own functions, and trains each
model on each target with the four combinations of ``train.init`` and
``train.rmsprop_eps`` on the same folds and seeds, with the pipeline's protocol
(``mer.cv.train_fold``: k-fold CV by song, 10 % of the training songs for early stopping,
RMSprop lr 1e-3, batch 20, <= ``--max-epochs`` epochs, patience 5, one thread).

Folds are the outer loop: every fold trains all combinations before the next fold starts,
and after ``--min-folds`` folds no new fold starts once training has taken
``--budget-min`` minutes, so a time-boxed run still compares the four combinations on the
same folds (the header says how many ran). Each run's row is
appended to ``--work``/training_defaults_runs.csv as it finishes.

Table: mean ± std over the folds run of the test R², the validation MSE at the restored
epoch, the epochs trained, the share of runs ended by early stopping (not the epoch cap)
and the mean wall seconds per run.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feedback import prepare  # noqa: E402 (same cached dataset + spectral features)

INITS = ("keras", "torch")
EPS = ("inside", "outside")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["AT_32", "LSTM_32"])
    parser.add_argument("--targets", nargs="+", default=["arousal", "valence"])
    parser.add_argument("--songs", type=int, default=300)
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold split")
    parser.add_argument("--folds-run", type=int, default=5, help="at most this many folds")
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--budget-min", type=float, default=20.0,
                        help="start no new fold after this many minutes of training")
    parser.add_argument("--min-folds", type=int, default=3,
                        help="run at least this many folds whatever the budget")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mer-training-defaults"))
    args = parser.parse_args(argv)

    import torch

    from mer.cv import FoldOutputs, assign_folds, train_fold
    from mer.training import TrainConfig

    torch.set_num_threads(1)  # as the pipeline's train_fold jobs (threads: 1)
    logging.basicConfig(level=logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    features, annotations = prepare(args.work, args.songs, args.seed)
    prepared_s = time.perf_counter() - started
    folds = assign_folds(annotations.song_ids, args.folds, args.seed)
    runs_csv = args.work / "training_defaults_runs.csv"
    runs_csv.unlink(missing_ok=True)

    rows, folds_done, training_started = [], 0, time.perf_counter()
    for fold in range(args.folds_run):
        over_budget = time.perf_counter() - training_started > 60 * args.budget_min
        if fold >= args.min_folds and over_budget:
            break
        for model, target, init, eps in itertools.product(args.models, args.targets, INITS, EPS):
            out = args.work / "results" / f"{init}-{eps}" / target / model / f"fold{fold}"
            outputs = FoldOutputs(*(out / name for name in (
                "model.pt", "predictions.csv", "attention.npz", "history.csv", "metrics.json")))
            config = TrainConfig(max_epochs=args.max_epochs, seed=args.seed + fold,
                                 init=init, rmsprop_eps=eps)
            run_started = time.perf_counter()
            metrics = train_fold(
                features=features, annotations=annotations, folds=folds, fold=fold,
                target=target, model_name=model, train_config=config, model_options={},
                validation_fraction=0.1, seed=args.seed, outputs=outputs,
                dataset="synthetic", feature_set="spectral")
            row = {"model": model, "target": target, "init": init, "eps": eps, "fold": fold,
                   "seconds": time.perf_counter() - run_started,
                   **{k: metrics[k] for k in ("best_val_loss", "r2", "tau", "epochs")}}
            rows.append(row)
            pd.DataFrame([row]).to_csv(runs_csv, mode="a", header=len(rows) == 1, index=False)
            print(f"{model} {target} fold {fold} {init}/{eps}: R2 {row['r2']:.3f} "
                  f"val {row['best_val_loss']:.5f} epochs {row['epochs']} "
                  f"{row['seconds']:.0f}s", file=sys.stderr, flush=True)
        folds_done += 1

    wall = time.perf_counter() - started
    table = pd.DataFrame(rows)
    print(f"# {args.songs} built-in songs, spectral features, {args.folds}-fold CV "
          f"({folds_done} fold(s) run), <= {args.max_epochs} epochs, patience 5, seed "
          f"{args.seed}; wall {wall / 60:.1f} min (data + features {prepared_s / 60:.1f} min)")
    print("\n| model | target | init | eps | test R² | val MSE | epochs | early-stopped | s/run |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for (model, target, init, eps), group in table.groupby(
            ["model", "target", "init", "eps"], sort=False):
        def cell(column, digits):
            std = group[column].std(ddof=1) if len(group) > 1 else 0.0
            return f"{group[column].mean():.{digits}f} ± {std:.{digits}f}"
        stopped = int((group["epochs"] < args.max_epochs).sum())
        print(f"| {model} | {target} | {init} | {eps} | {cell('r2', 3)} | "
              f"{cell('best_val_loss', 4)} | {cell('epochs', 1)} | {stopped}/{len(group)} | "
              f"{group['seconds'].mean():.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
