"""Two runs of the same songs and folds, model by model: what a training setting changes.

    .venv/bin/python benchmarks/compare_runs.py RUN_A RUN_B [--label-a keras/inside --label-b torch/outside]

RUN_A and RUN_B are working copies that finished `snakemake train` on the same dataset,
feature sets and fold split but different settings (e.g. the `builtin_full` grid and its
`builtin_full_ablation`, docs/builtin-dataset.md). For every (target, feature set, model)
both trained, one markdown row: mean ± std over folds of test R² and τ̄ in each run, the
mean epochs and how many fold runs early stopping ended, and ΔR² (B − A) over the shared
folds with the Nadeau–Bengio corrected resampled t-test (``mer.reports.stats``; the fold
test the claims use), not corrected across rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def summaries(run: Path) -> dict:
    found = {}
    for path in sorted(run.glob("results/*/*/*/*/cv_summary.json")):
        s = json.loads(path.read_text())
        found[(s["target"], s["feature_set"], s["model"])] = (path, s)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--label-a", default="A")
    parser.add_argument("--label-b", default="B")
    args = parser.parse_args()

    from mer.reports.stats import corrected_ttest
    from mer.reports.summaries import fold_song_counts, fold_values

    a, b = summaries(args.run_a), summaries(args.run_b)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit(f"no (target, feature set, model) trained in both {args.run_a} and {args.run_b}")
    la, lb = args.label_a, args.label_b
    print(f"| target | feature set | model | R² {la} | R² {lb} | τ̄ {la} | τ̄ {lb} | epochs {la} | epochs {lb} "
          f"| ΔR² {lb} − {la} [95 % CI] | p |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def stopped(s):
        early = s.get("early_stopped")
        runs = len(s["folds"])
        return f"{s['epochs_mean']:.1f} ({early}/{runs} early)" if early is not None else "–"

    for key in shared:
        (path_a, sa), (path_b, sb) = a[key], b[key]
        ra, rb = fold_values(path_a), fold_values(path_b)
        folds = ra.index.intersection(rb.index)
        n_test, n_train = fold_song_counts(pd.read_csv(path_a.with_name("predictions.csv")))
        test = corrected_ttest((rb[folds] - ra[folds]).to_numpy(), n_test=n_test, n_train=n_train)
        ci = "" if not np.isfinite(test.ci_low) else f" [{test.ci_low:+.3f}, {test.ci_high:+.3f}]"
        p = "–" if not np.isfinite(test.p) else f"{test.p:.3f}"
        print(f"| {key[0]} | {key[1]} | {key[2]} | {sa['r2']:.3f} ± {sa['r2_std']:.3f} | "
              f"{sb['r2']:.3f} ± {sb['r2_std']:.3f} | {sa['tau']:.3f} | {sb['tau']:.3f} | {stopped(sa)} | "
              f"{stopped(sb)} | {test.estimate:+.3f}{ci} | {p} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
