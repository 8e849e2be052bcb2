"""Which y_{t-1} feedback to train AT/BAT with: free running or teacher forcing?

    .venv/bin/python benchmarks/feedback.py                       # AT_32, 80 songs, 5 folds
    .venv/bin/python benchmarks/feedback.py --models AT_32 BAT_32 --folds-run 10

Generates the built-in synthetic dataset (cached under ``--work``), extracts the
``spectral`` features with the pipeline's own functions, and trains every model with both
``train.feedback`` modes on the same folds, seeds and protocol as the pipeline
(``mer.cv.train_fold``: 10-fold CV by song, 10 % of training songs for early stopping,
RMSprop, batch 20, <= ``--max-epochs`` epochs, patience 5). Evaluation always feeds back
the model's own predictions, so the two modes differ in training only.

The decision criterion is the *validation* MSE at the restored epoch (``best_val_loss``),
never the test metrics, which are printed for information. The table gives mean ± std
over the folds run, and per mode the number of (target, fold) pairs it wins on validation.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

MODES = ("free_running", "teacher_forcing")


def prepare(work: Path, n_songs: int, seed: int, n_shards: int = 4):
    """Synthetic dataset and its spectral features under ``work`` (reused when present)."""
    from mer.data.emomusic import clip_path, load_annotations
    from mer.data.synthetic import generate_synthetic_dataset
    from mer.features import extract_shard, load_features, merge_shards

    raw = work / f"raw-{n_songs}-{seed}"
    values, index = work / f"spectral-{n_songs}-{seed}.npy", work / f"spectral-{n_songs}-{seed}.json"
    if not raw.exists():
        generate_synthetic_dataset(raw, n_songs=n_songs, seed=seed)
    annotations = load_annotations(raw)
    if not values.exists():
        shards = []
        for shard in range(n_shards):
            ids = [int(s) for s in annotations.song_ids[shard::n_shards]]
            path = work / f"spectral-{n_songs}-{seed}.shard{shard}.npz"
            extract_shard([clip_path(raw, s) for s in ids], ids, "spectral", path,
                          progress=False)
            shards.append(path)
        merge_shards(shards, values, index)
    return load_features(values, index), annotations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["AT_32"])
    parser.add_argument("--targets", nargs="+", default=["arousal", "valence"])
    parser.add_argument("--songs", type=int, default=80)
    parser.add_argument("--folds", type=int, default=10, help="k of the k-fold split")
    parser.add_argument("--folds-run", type=int, default=5, help="how many of the k folds to train")
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mer-feedback"))
    args = parser.parse_args(argv)

    import torch

    from mer.cv import FoldOutputs, assign_folds, train_fold
    from mer.training import TrainConfig

    torch.set_num_threads(1)  # as the pipeline's train_fold jobs (threads: 1)
    logging.basicConfig(level=logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)
    features, annotations = prepare(args.work, args.songs, args.seed)
    folds = assign_folds(annotations.song_ids, args.folds, args.seed)

    rows = []
    for model in args.models:
        for target in args.targets:
            for fold in range(args.folds_run):
                for mode in MODES:
                    out = args.work / "results" / mode / target / model / f"fold{fold}"
                    outputs = FoldOutputs(*(out / name for name in (
                        "model.pt", "predictions.csv", "attention.npz", "history.csv",
                        "metrics.json")))
                    config = TrainConfig(max_epochs=args.max_epochs, seed=args.seed + fold,
                                         feedback=mode)
                    metrics = train_fold(
                        features=features, annotations=annotations, folds=folds, fold=fold,
                        target=target, model_name=model, train_config=config,
                        model_options={}, validation_fraction=0.1, seed=args.seed,
                        outputs=outputs, dataset="synthetic", feature_set="spectral")
                    rows.append({"model": model, "target": target, "fold": fold, "mode": mode,
                                 **{k: metrics[k] for k in ("best_val_loss", "r2", "tau", "mae",
                                                            "epochs")}})
                    print(f"{model} {target} fold {fold} {mode:15s} val {metrics['best_val_loss']:.5f}"
                          f"  test R2 {metrics['r2']:.3f}  epochs {metrics['epochs']}",
                          file=sys.stderr, flush=True)

    table = pd.DataFrame(rows)
    table.to_csv(args.work / "feedback_runs.csv", index=False)
    wide = table.pivot_table(index=["model", "target", "fold"], columns="mode",
                             values="best_val_loss")
    wins = {mode: int((wide[mode] < wide[other]).sum())
            for mode, other in (MODES, MODES[::-1])}
    print(f"# {args.songs} synthetic songs, spectral features, {args.folds}-fold CV "
          f"(folds 0..{args.folds_run - 1} run), <= {args.max_epochs} epochs, seed {args.seed}")
    print("\n| model | target | feedback | val MSE | test R² | test τ̄ | test MAE | epochs |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (model, target, mode), group in table.groupby(["model", "target", "mode"], sort=False):
        cells = [f"{group[c].mean():.4f} ± {group[c].std(ddof=1):.4f}"
                 for c in ("best_val_loss", "r2", "tau", "mae")]
        print(f"| {model} | {target} | {mode} | " + " | ".join(cells)
              + f" | {group['epochs'].mean():.1f} |")
    print("\n| feedback | mean val MSE (all runs) | mean test R² | (target, fold) wins on val |")
    print("|---|---:|---:|---:|")
    for mode in MODES:
        group = table[table["mode"] == mode]
        print(f"| {mode} | {group['best_val_loss'].mean():.5f} | {group['r2'].mean():.3f} "
              f"| {wins[mode]} of {len(wide)} |")
    best = min(MODES, key=lambda mode: table.loc[table["mode"] == mode, "best_val_loss"].mean())
    print(f"\nlower mean validation MSE: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
