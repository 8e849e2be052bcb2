"""Is the built-in dataset more than one loudness knob? Measure it.

    .venv/bin/python benchmarks/synthetic.py                    # 120 songs, ~6 CPU-min
    .venv/bin/python benchmarks/synthetic.py --songs 60 --workers 2
    .venv/bin/python benchmarks/synthetic.py --songs 60 --compare-songs 10 \\
        --train-models AT_32 --train-sets spectral compare    # per-job costs for sizing a grid

Generates ``--songs`` songs with the workflow's own writer (``generate_synthetic_dataset``,
MP3 files included), extracts ``spectral`` (197 columns, the 61 annotated frames) with the
pipeline's ``extract_file_features``, and prints:

* the generation cost per song (CPU seconds of this process and its workers) and the
  spectral (and, with ``--compare-songs``, ComParE) extraction cost per song;
* the realism statistics of the annotations (these songs, and 600 songs drawn without
  audio) beside the real set's;
* for arousal and valence: the highest |Pearson r| of one feature's song mean with the
  song-mean annotation (and the next four), the 10-fold cross-validated R² of ridge
  regression on all 197 song means, and of a one-feature loudness model (song-mean log
  RMS; per frame, the running mean of log RMS up to the frame);
* what looking back earns, within songs: least squares on the first 20 principal
  components of each frame's deviation from its song mean, with the frame's features
  alone and with the mean of the preceding 8 s added (10 folds grouped by song), and the same with the true key plan (the frame's mode against the
  mode established before it) as an upper bound;
* with ``--train-models``: CPU seconds and epochs of one ``mer.cv.train_fold`` job per
  (model, feature set, target) on fold 0 of a 10-fold split, 1 thread, as the pipeline.

All CPU times are ``time.process_time`` (+ children): other load on the machine does not
count, but a shared machine still slows caches; wall times are printed beside.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np

REAL = {"mean_arousal": 0.03, "mean_valence": 0.04, "std_arousal": 0.30, "std_valence": 0.24,
        "between_share_arousal": 0.98, "between_share_valence": 0.98,
        "within_std_arousal": 0.03, "within_std_valence": 0.03,
        "lag1_autocorr_arousal": 0.94, "lag1_autocorr_valence": 0.94, "av_corr": 0.57}
LOOK_BACK_FRAMES = 16  # 8 s


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _cv_r2(model, x, y, groups=None, folds=10, seed=0) -> float:
    from sklearn.metrics import r2_score
    from sklearn.model_selection import GroupKFold, KFold, cross_val_predict
    cv = (KFold(folds, shuffle=True, random_state=seed) if groups is None
          else GroupKFold(folds))
    return float(r2_score(y, cross_val_predict(model, x, y, cv=cv, groups=groups)))


def _ridge():
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 5, 17)))


def _within_song_model(components: int = 20):
    """Standardise, keep the first principal components, least squares. (RidgeCV's
    leave-one-out picks its penalty on neighbouring, nearly identical frames and
    overfits across songs.)"""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), PCA(components, random_state=0), LinearRegression())


def _preceding_mean(x: np.ndarray, frames: int) -> np.ndarray:
    """(songs, T, d) -> mean of frames t-frames .. t-1 (frame 0: itself), per song."""
    c = np.cumsum(np.concatenate([np.zeros_like(x[:, :1]), x], axis=1), axis=1)
    t = np.arange(x.shape[1])
    start = np.maximum(t - frames, 0)
    stop = np.maximum(t, 1)
    return (c[:, stop] - c[:, start]) / (stop - start)[None, :, None]


def _correlations(means: np.ndarray, y: np.ndarray, columns: list[str]):
    x = means - means.mean(axis=0)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x.T @ yc) / np.sqrt((x**2).sum(axis=0) * (yc**2).sum())
    r = np.nan_to_num(r)
    order = np.argsort(-np.abs(r))
    return [(columns[j], float(r[j])) for j in order[:5]]


def measure_dataset(args) -> dict:
    from mer.data.emomusic import clip_path, load_annotations
    from mer.data.synthetic import generate_synthetic_dataset
    from mer.features import extract_file_features, feature_set

    raw = args.work / f"raw-{args.songs}-{args.seed}"
    wall, cpu = time.perf_counter(), _cpu()
    generate_synthetic_dataset(raw, n_songs=args.songs, seed=args.seed, workers=args.workers)
    generation = {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu}
    annotations = load_annotations(raw)
    ids = [int(s) for s in annotations.song_ids]

    cpu = time.process_time()
    spectral = np.stack([extract_file_features(clip_path(raw, s), ["spectral"])["spectral"]
                         for s in ids])
    spectral_cpu = (time.process_time() - cpu) / len(ids)
    compare_cpu = None
    if args.compare_songs:
        cpu = time.process_time()
        for s in ids[: args.compare_songs]:
            extract_file_features(clip_path(raw, s), ["compare"])
        compare_cpu = (time.process_time() - cpu) / min(args.compare_songs, len(ids))
    return {"raw": raw, "annotations": annotations, "ids": ids, "spectral": spectral,
            "columns": feature_set("spectral").columns, "generation": generation,
            "spectral_cpu": spectral_cpu, "compare_cpu": compare_cpu}


def knob_table(data) -> list[str]:
    from sklearn.linear_model import LinearRegression
    x, columns = data["spectral"], data["columns"]
    means = x.mean(axis=1)
    n_songs, n_frames, _ = x.shape
    log_rms = np.log(x[:, :, columns.index("rms")] + 1e-10)
    running = np.cumsum(log_rms, axis=1) / np.arange(1, n_frames + 1)
    groups = np.repeat(np.arange(n_songs), n_frames)
    lines = ["| target | highest single-feature \\|r\\| (song means) | next four | ridge, 197 song means, R² "
             "| song-mean log RMS, R² | running-mean log RMS per frame, R² |",
             "|---|---|---|---:|---:|---:|"]
    for target in ("arousal", "valence"):
        y = data["annotations"].values[target]
        top = _correlations(means, y.mean(axis=1), columns)
        ridge = _cv_r2(_ridge(), means, y.mean(axis=1))
        loud = _cv_r2(LinearRegression(), log_rms.mean(axis=1, keepdims=True), y.mean(axis=1))
        frame_loud = _cv_r2(LinearRegression(), running.reshape(-1, 1), y.reshape(-1), groups)
        lines.append(f"| {target} | {abs(top[0][1]):.3f} ({top[0][0]}) | "
                     + ", ".join(f"{c} {r:+.2f}" for c, r in top[1:])
                     + f" | {ridge:.3f} | {loud:.3f} | {frame_loud:.3f} |")
    return lines


def look_back_table(data) -> list[str]:
    from sklearn.linear_model import LinearRegression

    from mer.data.synthetic import CONTROL_RATE, draw_song_emotion
    from mer.data.synthetic.raters import causal_smooth
    from mer.frames import FIRST_ANNOTATED_FRAME, N_ANNOTATED_FRAMES, frame_bounds
    x = data["spectral"]
    n_songs, n_frames, _ = x.shape
    groups = np.repeat(np.arange(n_songs), n_frames)
    dev = x - x.mean(axis=1, keepdims=True)
    past = _preceding_mean(x, LOOK_BACK_FRAMES)
    past -= past.mean(axis=1, keepdims=True)
    frames = np.arange(FIRST_ANNOTATED_FRAME, FIRST_ANNOTATED_FRAME + N_ANNOTATED_FRAMES)
    centres = np.mean(frame_bounds(frames), axis=0)
    local, established = [], []
    for s in data["ids"]:
        emotion = draw_song_emotion(s, seed=data["seed"])
        times = emotion.control_times
        mode = emotion.keys.mode_at(times)
        local.append(np.interp(centres, times, mode))
        smooth = causal_smooth(mode, 6.0, CONTROL_RATE)  # any slow average of the past
        established.append(np.interp(centres, times, smooth))
    local, established = (np.array(v) - np.mean(v, axis=1, keepdims=True)
                          for v in (local, established))
    lines = ["| target | within-song R²: frame features | + preceding 8 s | true key plan: frame's mode "
             "| + mode before it |", "|---|---:|---:|---:|---:|"]
    for target in ("arousal", "valence"):
        y = data["annotations"].values[target]
        y = (y - y.mean(axis=1, keepdims=True)).reshape(-1)
        now = _cv_r2(_within_song_model(), dev.reshape(n_songs * n_frames, -1), y, groups)
        both = _cv_r2(_within_song_model(),
                      np.concatenate([dev, past], axis=2).reshape(n_songs * n_frames, -1), y, groups)
        k_now = _cv_r2(LinearRegression(), local.reshape(-1, 1), y, groups)
        k_both = _cv_r2(LinearRegression(), np.stack([local.ravel(), established.ravel()], 1),
                        y, groups)
        lines.append(f"| {target} | {now:.3f} | {both:.3f} | {k_now:.3f} | {k_both:.3f} |")
    return lines


def realism_table(data) -> list[str]:
    from mer.data.synthetic import annotation_statistics, draw_annotations
    values = data["annotations"].values
    here = annotation_statistics(values["arousal"], values["valence"])
    drawn = draw_annotations(np.arange(2, 602), seed=data["seed"])
    many = annotation_statistics(drawn["arousal"], drawn["valence"])
    lines = [f"| statistic | real (744 songs) | these {len(data['ids'])} songs | 600 songs, no audio |",
             "|---|---:|---:|---:|"]
    for key, real in REAL.items():
        lines.append(f"| {key} | {real:.2f} | {here[key]:.3f} | {many[key]:.3f} |")
    return lines


def training_table(data, args) -> list[str]:
    import torch

    from mer.cv import FoldOutputs, assign_folds, train_fold
    from mer.data.emomusic import clip_path
    from mer.features import extract_shard, load_features, merge_shards
    from mer.training import TrainConfig

    torch.set_num_threads(1)  # as the pipeline's train_fold jobs (threads: 1)
    folds = assign_folds(data["annotations"].song_ids, 10, args.seed)
    lines = ["| model | features | target | songs (fit/val/test) | epochs (best) | CPU s | CPU s / epoch | test R² |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    for set_name in args.train_sets:
        values = args.work / f"{set_name}-{args.songs}-{args.seed}.npy"
        index = values.with_suffix(".json")
        if not values.exists():
            shard = values.with_suffix(".shard0.npz")
            extract_shard([clip_path(data["raw"], s) for s in data["ids"]], data["ids"],
                          set_name, shard, progress=False)
            merge_shards([shard], values, index)
        features = load_features(values, index)
        for model in args.train_models:
            for target in ("arousal", "valence"):
                out = args.work / "results" / set_name / model / target
                outputs = FoldOutputs(*(out / name for name in (
                    "model.pt", "predictions.csv", "attention.npz", "history.csv", "metrics.json")))
                cpu = time.process_time()
                metrics = train_fold(
                    features=features, annotations=data["annotations"], folds=folds, fold=0,
                    target=target, model_name=model,
                    train_config=TrainConfig(max_epochs=args.max_epochs, seed=args.seed),
                    model_options={}, validation_fraction=0.1, seed=args.seed, outputs=outputs,
                    dataset="synthetic", feature_set=set_name)
                cpu = time.process_time() - cpu
                n_test = int((folds["fold"] == 0).sum())
                n_val = int(round(0.1 * (len(folds) - n_test)))
                lines.append(f"| {model} | {set_name} | {target} | {len(folds) - n_test - n_val}/"
                             f"{n_val}/{n_test} | {metrics['epochs']} ({metrics['best_epoch']}) | "
                             f"{cpu:.1f} | {cpu / metrics['epochs']:.2f} | {metrics['r2']:.3f} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--workers", type=int, default=1, help="generation processes")
    parser.add_argument("--compare-songs", type=int, default=0,
                        help="time ComParE extraction on this many songs (0: skip)")
    parser.add_argument("--train-models", nargs="*", default=[])
    parser.add_argument("--train-sets", nargs="+", default=["spectral"])
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mer-synthetic-benchmark"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)

    data = measure_dataset(args)
    data["seed"] = args.seed
    g = data["generation"]
    print(f"# built-in dataset: {args.songs} songs, seed {args.seed}, {args.workers} worker(s)\n")
    print("| step | per song (CPU s) | total wall (s) |\n|---|---:|---:|")
    print(f"| generate (render + MP3) | {g['cpu_s'] / args.songs:.3f} | {g['wall_s']:.1f} |")
    print(f"| extract spectral (61 frames) | {data['spectral_cpu']:.3f} | |")
    if data["compare_cpu"] is not None:
        print(f"| extract compare, per_segment ({args.compare_songs} songs) | "
              f"{data['compare_cpu']:.3f} | |")
    print(f"\n744 songs on 2 workers at this rate: {744 * g['cpu_s'] / args.songs / 2 / 60:.1f} min "
          "(CPU-bound, perfect split)\n")
    for table in (realism_table(data), knob_table(data), look_back_table(data)):
        print("\n".join(table) + "\n")
    if args.train_models:
        print("\n".join(training_table(data, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
