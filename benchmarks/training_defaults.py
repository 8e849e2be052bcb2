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

``--data shaped`` replaces the songs by generated arrays of the emoMusic shape (61 frames
of ``--dims`` features; no audio, so nothing to extract): each feature an AR(1) series in
time (rho 0.9) around a per-song level; the target of frame t is 0.3·tanh(song level of
10 features) + 0.08·tanh(running mean of 10 other features over the last 8 frames), so,
as in the real annotations, most of its variance lies between songs and part of the
within-song variation needs the past. It trains the same models with the same protocol
(``mer.training.fit`` on the fold's fit songs, early stopping on its validation songs,
``mer.metrics.evaluate`` on its test songs), one target.

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

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feedback import prepare  # noqa: E402 (same cached dataset + spectral features)

INITS = ("keras", "torch")
FRAMES = 61


def shaped_songs(n_songs: int, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, 61, dims), y (n, 61)) of ``--data shaped`` (see the module docstring)."""
    rng = np.random.default_rng([seed, dims])
    level = rng.standard_normal((n_songs, 1, dims))
    noise = rng.standard_normal((n_songs, FRAMES, dims))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0]
    for t in range(1, FRAMES):
        x[:, t] = 0.9 * x[:, t - 1] + np.sqrt(1 - 0.9 ** 2) * noise[:, t]
    x = level + 0.7 * x
    song_part = np.tanh(level[:, 0, :10].sum(axis=1, keepdims=True) / np.sqrt(10))
    windows = np.cumsum(x[:, :, 10:20].mean(axis=2), axis=1)
    lagged = np.concatenate([np.zeros((n_songs, 8)), windows[:, :-8]], axis=1)
    steps = np.minimum(np.arange(1, FRAMES + 1), 8)
    local = np.tanh(2 * (windows - lagged) / steps)
    y = 0.3 * song_part + 0.08 * local
    return x.astype(np.float32), y.astype(np.float32)


def train_shaped(shaped, folds, fold: int, model_name: str, config, seed: int) -> dict:
    """One fold of ``--data shaped`` with the pipeline's protocol (as mer.cv.train_fold)."""
    from mer.cv import Standardizer, split_fold
    from mer.metrics import evaluate
    from mer.models import build_model
    from mer.runtime import seed_everything
    from mer.training import fit, predict

    x, y = shaped
    split = split_fold(folds, fold, 0.1, seed)
    scaler = Standardizer.fit(x[split.fit])
    seed_everything(config.seed)
    model = build_model(model_name, x.shape[2])
    history = fit(model, scaler.transform(x[split.fit]), y[split.fit],
                  scaler.transform(x[split.validation]), y[split.validation], config)
    prediction, _ = predict(model, scaler.transform(x[split.test]))
    metrics = evaluate(y[split.test], prediction)
    best = max((r for r in history if r["improved"]), key=lambda r: r["epoch"])
    return {**metrics, "epochs": len(history), "best_val_loss": best["val_loss"]}
EPS = ("inside", "outside")


def ridge_reference(shaped, folds, fold: int, seed: int) -> float:
    """Test R² of per-frame ridge (scikit-learn, alpha chosen on the validation songs) on
    one fold of ``--data shaped``: the reference row of the table."""
    from sklearn.linear_model import Ridge

    from mer.cv import Standardizer, split_fold
    from mer.metrics import evaluate

    x, y = shaped
    split = split_fold(folds, fold, 0.1, seed)
    scaler = Standardizer.fit(x[split.fit])

    def frames(ids):
        return scaler.transform(x[ids]).reshape(-1, x.shape[2])

    alphas = [0.1, 1.0, 10.0, 100.0, 1000.0]
    fitted = [Ridge(alpha=a).fit(frames(split.fit), y[split.fit].ravel()) for a in alphas]
    best = min(fitted, key=lambda r: np.mean((r.predict(frames(split.validation))
                                              - y[split.validation].ravel()) ** 2))
    prediction = best.predict(frames(split.test)).reshape(len(split.test), -1)
    return evaluate(y[split.test], prediction)["r2"]


def markdown_table(table: pd.DataFrame, max_epochs: int) -> str:
    """Mean ± std over folds per (model, target, init, eps) of the runs' rows."""
    lines = ["", "| model | target | init | eps | folds | test R² | val MSE | epochs "
             "| early-stopped | s/run |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for (model, target, init, eps), group in table.groupby(
            ["model", "target", "init", "eps"], sort=False):
        def cell(column, digits):
            std = group[column].std(ddof=1) if len(group) > 1 else 0.0
            return f"{group[column].mean():.{digits}f} ± {std:.{digits}f}"
        stopped = int((group["epochs"] < max_epochs).sum())
        lines.append(f"| {model} | {target} | {init} | {eps} | {len(group)} | {cell('r2', 3)} | "
                     f"{cell('best_val_loss', 4)} | {cell('epochs', 1)} | {stopped}/{len(group)} "
                     f"| {group['seconds'].mean():.0f} |")
    return "\n".join(lines)


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
    parser.add_argument("--data", choices=["builtin", "shaped"], default="builtin",
                        help="built-in songs + spectral features, or generated arrays")
    parser.add_argument("--dims", type=int, default=197, help="features of --data shaped")
    parser.add_argument("--combos", nargs="+", default=[f"{i}/{e}" for i in INITS for e in EPS],
                        help="init/eps pairs to train (default all four)")
    parser.add_argument("--table-from", type=Path,
                        help="only print the table of an earlier run's runs CSV (e.g. cut short)")
    args = parser.parse_args(argv)
    if args.table_from:
        print(markdown_table(pd.read_csv(args.table_from), args.max_epochs))
        return 0

    import torch

    from mer.cv import FoldOutputs, assign_folds, train_fold
    from mer.training import TrainConfig

    torch.set_num_threads(1)  # as the pipeline's train_fold jobs (threads: 1)
    logging.basicConfig(level=logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.data == "builtin":
        features, annotations = prepare(args.work, args.songs, args.seed)
        song_ids = annotations.song_ids
        args.targets_run = args.targets
    else:
        shaped = shaped_songs(args.songs, args.dims, args.seed)
        song_ids = np.arange(args.songs)
        args.targets_run = ["shaped"]
    prepared_s = time.perf_counter() - started
    folds = assign_folds(song_ids, args.folds, args.seed)
    runs_csv = args.work / "training_defaults_runs.csv"
    runs_csv.unlink(missing_ok=True)

    rows, folds_done, training_started = [], 0, time.perf_counter()
    for fold in range(args.folds_run):
        over_budget = time.perf_counter() - training_started > 60 * args.budget_min
        if fold >= args.min_folds and over_budget:
            break
        combos = [tuple(combo.split("/")) for combo in args.combos]
        for model, target, (init, eps) in itertools.product(args.models, args.targets_run,
                                                            combos):
            config = TrainConfig(max_epochs=args.max_epochs, seed=args.seed + fold,
                                 init=init, rmsprop_eps=eps)
            run_started = time.perf_counter()
            if args.data == "shaped":
                metrics = train_shaped(shaped, folds, fold, model, config, args.seed)
            else:
                out = args.work / "results" / f"{init}-{eps}" / target / model / f"fold{fold}"
                outputs = FoldOutputs(*(out / name for name in (
                    "model.pt", "predictions.csv", "attention.npz", "history.csv",
                    "metrics.json")))
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
        if args.data == "shaped":
            print(f"per-frame ridge, fold {fold}: R2 "
                  f"{ridge_reference(shaped, folds, fold, args.seed):.3f}", file=sys.stderr)
        folds_done += 1

    wall = time.perf_counter() - started
    table = pd.DataFrame(rows)
    data = (f"{args.songs} built-in songs, spectral features" if args.data == "builtin" else
            f"{args.songs} generated songs of 61 frames x {args.dims} dims (--data shaped)")
    print(f"# {data}, {args.folds}-fold CV "
          f"({folds_done} fold(s) run), <= {args.max_epochs} epochs, patience 5, seed "
          f"{args.seed}; wall {wall / 60:.1f} min (data + features {prepared_s / 60:.1f} min)")
    print(markdown_table(table, args.max_epochs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
