"""CPU seconds of one fold's closed-form baseline fit (MEAN, RIDGE, RIDGE_SONG), per feature
dimensionality, on random standardised features of a fold of the default run's size.

    .venv/bin/python benchmarks/baselines.py [--songs 48] [--threads 1]

Prints a markdown table: CPU seconds (``time.process_time``, so other processes do not
count) of ``mer.models.baselines.fit_baseline`` over the 6-alpha grid of params.yaml,
with the sklearn import paid before timing. Results: docs/baselines.md.
"""

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=48, help="fitting songs (default run: 48)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    import sklearn.linear_model  # noqa: F401 (import not timed)
    from mer.models import build_model
    from mer.models.baselines import fit_baseline

    alphas = [0.1, 1, 10, 100, 1000, 10000]
    rng = np.random.default_rng(0)
    print(f"| dims | fit frames | MEAN (s) | RIDGE (s) | RIDGE_SONG (s) |\n|---|---|---|---|---|")
    with threadpool_limits(args.threads):
        for dims in (12, 197, 6373):  # chroma, spectral, ComParE
            x = rng.standard_normal((args.songs, 61, dims)).astype(np.float32)
            y = rng.standard_normal((args.songs, 61))
            x_val = rng.standard_normal((5, 61, dims)).astype(np.float32)
            y_val = rng.standard_normal((5, 61))
            seconds = []
            for family in ("MEAN", "RIDGE", "RIDGE_SONG"):
                model = build_model(family, dims)
                started = time.process_time()
                fit_baseline(model, family, x, y, x_val, y_val, alphas=alphas)
                seconds.append(time.process_time() - started)
            print(f"| {dims} | {args.songs * 61} | " + " | ".join(f"{s:.2f}" for s in seconds) + " |")


if __name__ == "__main__":
    main()
