"""CPU seconds of one fold's closed-form baseline fit (MEAN, RIDGE, RIDGE_SONG) for both
targets, per feature dimensionality, on random standardised features of a fold of the
default run's size.

    .venv/bin/python benchmarks/baselines.py [--songs 72] [--threads 1]

Prints a markdown table: CPU seconds (``time.process_time``, so other processes do not
count) of ``mer.models.baselines.fit_baselines`` for two targets over the 6-alpha grid of
params.yaml, as one ``train_baselines_<set>`` job fits them, with the scipy import paid
before timing. Results: docs/baselines.md.
"""

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=72, help="fitting songs (default run: 72)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    import scipy.linalg  # noqa: F401 (import not timed)
    from mer.models import build_model
    from mer.models.baselines import fit_baselines

    alphas = [0.1, 1, 10, 100, 1000, 10000]
    rng = np.random.default_rng(0)
    print(f"| dims | fit frames | MEAN (s) | RIDGE (s) | RIDGE_SONG (s) |\n|---|---|---|---|---|")
    with threadpool_limits(args.threads):
        for dims in (12, 197, 6373):  # chroma, spectral, ComParE
            x = rng.standard_normal((args.songs, 61, dims)).astype(np.float32)
            ys = [rng.standard_normal((args.songs, 61)) for _ in range(2)]  # arousal, valence
            x_val = rng.standard_normal((8, 61, dims)).astype(np.float32)
            ys_val = [rng.standard_normal((8, 61)) for _ in range(2)]
            seconds = []
            for family in ("MEAN", "RIDGE", "RIDGE_SONG"):
                models = [build_model(family, dims) for _ in ys]
                started = time.process_time()
                fit_baselines(models, family, x, ys, x_val, ys_val, alphas=alphas)
                seconds.append(time.process_time() - started)
            print(f"| {dims} | {args.songs * 61} | " + " | ".join(f"{s:.2f}" for s in seconds) + " |")


if __name__ == "__main__":
    main()
