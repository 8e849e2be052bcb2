"""``mer predict``: arousal and valence curves of any music file from exported bundles.

Conventions:

* Audio: anything ``mer.audio.load_audio`` reads (MP3, WAV, FLAC, OGG; any sample rate,
  mono or stereo; mixed to mono and resampled to ``frames.SAMPLE_RATE``), any length of at
  least one 500 ms frame (3 s for feature sets with CQT blocks, such as ``spectral``).
  Songs are decoded and their features computed in 60 s pieces (``mer.features.extract``),
  and AT/BAT attention is built in blocks of query rows, so a 1-hour song stays well under
  1.5 GB (``benchmarks/predict.py --hour``).
* Frames: every *whole* 500 ms frame of the song, k = 0 .. floor(duration / 0.5) - 1
  (a trailing piece shorter than 0.5 s is dropped), stamped with its *end* time
  ``0.5 (k + 1)`` s as the annotations are (``mer.frames``). So the CSV has one row per
  whole frame, at 2 Hz, starting at 0.5 s.
* The models were trained on 30.5 s excerpts (frames 29..89 of 45 s clips). Here the whole
  song is one sequence: the LSTM runs over all of it and AT/BAT/Transformer attend over all
  of its frames. Features are standardised with the bundle's statistics (fitted on the
  training songs). Predictions are clipped to the annotation scale [-1, 1].
* Outputs per song (in ``--out``): ``<stem>.csv`` (``time_s`` and one column per target)
  and, with ``--plot``, ``<stem>.png``: both curves over time, then the attention map of
  each target whose model has one (row = predicted frame, column = attended frame).
  Songs with the same stem get ``_2``, ``_3``... in the order given.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mer.bundle import Bundle, find_bundles, load_bundle
from mer.errors import DataError, MerError
from mer.frames import SAMPLE_RATE, frame_end_times
from mer.io import atomic_path, write_csv_atomic

if TYPE_CHECKING:  # pandas costs 0.5 s of import: the feature worker starts before it
    import pandas as pd

    from mer.predict_worker import FeatureWorker

log = logging.getLogger(__name__)

TARGET_ORDER = ("arousal", "valence")
VALUE_RANGE = (-1.0, 1.0)  # the annotation scale the models were trained on
COLORS = {"arousal": "#d62728", "valence": "#1f77b4"}
MAX_MAP_PIXELS = 1000  # attention maps are drawn at most this many cells a side


@dataclass
class SongPrediction:
    path: Path
    duration_s: float
    curves: pd.DataFrame                 # time_s + one column per target
    attention: dict[str, np.ndarray] = field(default_factory=dict)  # target -> (T, T)


def load_bundles(model_dirs=None, *, models_root="models", feature_set: str | None = None
                 ) -> dict[str, Bundle]:
    """Target -> loaded bundle. Without ``model_dirs``, one bundle per target (arousal,
    valence) is found under ``models_root``; each given dir is a bundle or a tree of them."""
    if not model_dirs:
        folders = find_bundles(models_root, TARGET_ORDER, feature_set=feature_set)
    else:
        folders = {}
        for directory in map(Path, model_dirs):
            if not directory.exists():
                raise DataError(f"--model {directory}: no such folder")
            if (directory / "model.pt").is_file():
                found = {load_bundle(directory).target: directory}
            else:
                found = find_bundles(directory, [t for t in TARGET_ORDER if t not in folders],
                                     feature_set=feature_set)
            for target, folder in found.items():
                if target in folders and folders[target] != folder:
                    raise DataError(f"two bundles for {target}: {folders[target]} and {folder}; "
                                    "pass one --model per target")
                folders[target] = folder
    bundles = {t: load_bundle(folders[t], feature_set=feature_set, target=t)
               for t in TARGET_ORDER if t in folders}
    return bundles


def feature_plan(bundles: dict[str, Bundle]) -> dict[str, list[str]]:
    """ComParE mode -> the feature sets the bundles need in that mode (each block computed
    once per mode), in the bundles' order."""
    by_mode: dict[str, set[str]] = {}
    for bundle in bundles.values():
        by_mode.setdefault(bundle.compare_mode, set()).add(bundle.predict_feature_set)
    return {mode: sorted(sets) for mode, sets in by_mode.items()}


def song_feature_parts(path, plan: dict[str, list[str]], *, chunk_frames: int,
                       part: tuple[int, int] = (0, 1)) -> dict:
    """Part ``part`` (``mer.features.extract.extract_stream_part``) of the features of
    ``path`` for each mode of ``plan``; a ``MerError`` names the file."""
    from mer.features.extract import extract_path_part

    path = Path(path)
    try:
        return {mode: extract_path_part(path, sets, compare_mode=mode, chunk_frames=chunk_frames,
                                        part=part)
                for mode, sets in plan.items()}
    except MerError as error:
        raise type(error)(str(error) if str(path) in str(error) else f"{path}: {error}") from None


def join_song_features(plan: dict[str, list[str]], parts: list[dict]
                       ) -> tuple[dict[str, np.ndarray], int]:
    """Set name -> (n_frames, dims) features and the samples decoded, from every part."""
    from mer.features.extract import join_stream_parts

    features: dict[str, np.ndarray] = {}
    n_samples = 0
    for mode, sets in plan.items():
        values, n_samples = join_stream_parts([p[mode] for p in parts], sets)
        features.update(values)
    return features, n_samples


def song_features(path, bundles: dict[str, Bundle], *, chunk_frames: int | None = None
                  ) -> tuple[dict[str, np.ndarray], int]:
    """Features of every whole frame of ``path`` that ``bundles`` need, computed here, in
    pieces of ``chunk_frames`` frames (default ``mer.features.extract.CHUNK_FRAMES``)."""
    from mer.features.extract import CHUNK_FRAMES

    plan = feature_plan(bundles)
    return join_song_features(plan, [song_feature_parts(path, plan,
                                                        chunk_frames=chunk_frames or CHUNK_FRAMES)])


def predict_song(path, bundles: dict[str, Bundle], *, keep_attention: bool = True,
                 chunk_frames: int | None = None) -> SongPrediction:
    """Features of every whole frame of ``path``, then each bundle's curve (and attention,
    unless ``keep_attention`` is False: a (T, T) map is 207 MB for a 1-hour song).

    The file is decoded and its features computed in pieces of ``chunk_frames`` frames
    (default ``mer.features.extract.CHUNK_FRAMES``), so memory does not grow with its length.
    """
    features, n_samples = song_features(path, bundles, chunk_frames=chunk_frames)
    return predict_features(path, bundles, features, n_samples, keep_attention=keep_attention)


def predict_features(path, bundles: dict[str, Bundle], features: dict[str, np.ndarray],
                     n_samples: int, *, keep_attention: bool = True) -> SongPrediction:
    """Each bundle's curve (and attention) from the song's ``features`` (``song_features``)."""
    import pandas as pd

    from mer.training import predict

    n_frames = next(iter(features.values())).shape[0]
    curves = {"time_s": frame_end_times(n_frames)}
    attention = {}
    for target, bundle in bundles.items():
        values, weights = predict(bundle.model,
                                  bundle.normalise(features[bundle.predict_feature_set])[None])
        curves[target] = np.clip(values[0].astype(np.float64), *VALUE_RANGE)
        if weights is not None and keep_attention:
            attention[target] = weights[0]
        del weights
    return SongPrediction(Path(path), n_samples / SAMPLE_RATE, pd.DataFrame(curves), attention)


@contextlib.contextmanager
def _collector_paused(paused: bool):
    """The cyclic garbage collector off while torch and pandas are imported: their ~10⁶
    new objects set off repeated full collections (~0.4 CPU-s of the ~2 s import)."""
    if not paused or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def output_stems(paths) -> list[str]:
    """File stem per song; repeated stems get ``_2``, ``_3``... in order."""
    seen: Counter = Counter()
    stems = []
    for path in map(Path, paths):
        seen[path.stem] += 1
        stems.append(path.stem if seen[path.stem] == 1 else f"{path.stem}_{seen[path.stem]}")
    return stems


def plot_song(prediction: SongPrediction, png_path, *, bundles: dict[str, Bundle] | None = None) -> None:
    """Curves over time (top) and each attention map (below), one PNG."""
    from mer.reports.figures import _pyplot

    plt = _pyplot()
    targets = [c for c in prediction.curves.columns if c != "time_s"]
    maps = [t for t in targets if t in prediction.attention]
    fig = plt.figure(figsize=(6.8, 2.2 + 2.6 * bool(maps)), layout="constrained")
    grid = fig.add_gridspec(2 if maps else 1, max(1, len(maps)),
                            height_ratios=[1, 1.4] if maps else [1])
    curves = fig.add_subplot(grid[0, :])
    time = prediction.curves["time_s"].to_numpy()
    for target in targets:
        label = target + (f" ({bundles[target].model_name})" if bundles else "")
        curves.plot(time, prediction.curves[target], color=COLORS.get(target), lw=1, label=label)
    curves.axhline(0, color="#bbbbbb", lw=0.5)
    curves.set(xlim=(0, max(time[-1], 0.5)), ylim=(-1.05, 1.05), xlabel="time (s, frame end)",
               ylabel="predicted value", title=prediction.path.name)
    curves.legend(loc="upper right", frameon=False)
    extent = (0, time[-1], time[-1], 0)  # (left, right, bottom, top) in seconds
    for column, target in enumerate(maps):
        axis = fig.add_subplot(grid[1, column])
        image = axis.imshow(display_map(prediction.attention[target]), cmap="magma", aspect="auto",
                            extent=extent, interpolation="nearest")
        axis.set(title=f"{target} attention", xlabel="attended frame (s)",
                 ylabel="predicted frame (s)")
        fig.colorbar(image, ax=axis, shrink=0.8)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)


def display_map(weights: np.ndarray, max_pixels: int = MAX_MAP_PIXELS) -> np.ndarray:
    """A (T, T) attention map as drawn: block means of ``ceil(T / max_pixels)`` frames
    square when T exceeds ``max_pixels`` (a 1-hour song has T = 7200; matplotlib would
    hold several float64 and RGBA copies of the full map), else the map itself."""
    factor = -(-max(weights.shape) // max_pixels)
    if factor <= 1:
        return weights
    rows, cols = (-(-n // factor) * factor for n in weights.shape)
    padded = np.full((rows, cols), np.nan, dtype=np.float32)
    padded[:weights.shape[0], :weights.shape[1]] = weights
    return np.nanmean(padded.reshape(rows // factor, factor, cols // factor, factor), axis=(1, 3))


def predict_files(paths, bundles: dict[str, Bundle], out_dir, *, plot: bool = False,
                  progress: bool = True, worker: FeatureWorker | None = None) -> pd.DataFrame:
    """Predict every song; a song that fails is reported and skipped. One row per song.

    With ``worker`` (a started ``mer.predict_worker.FeatureWorker``), features are
    computed there, one song ahead; ``FeatureWorkerDied`` (a ``MerError``) stops the run.
    """
    import pandas as pd
    from tqdm import tqdm

    from mer.features.extract import CHUNK_FRAMES

    out_dir = Path(out_dir)
    rows = []
    songs = list(zip(map(Path, paths), output_stems(paths)))
    if worker is not None:
        worker.submit([path for path, _ in songs], feature_plan(bundles), CHUNK_FRAMES)
    for index, (path, stem) in enumerate(tqdm(songs, desc="predict", unit="song",
                                              disable=not progress)):
        row = {"song": str(path), "duration_s": np.nan, "frames": 0}
        row.update({f"{t}_mean": np.nan for t in bundles})
        outcome = worker.next_song(index) if worker is not None else None  # raises if it died
        try:
            if outcome is None:
                prediction = predict_song(path, bundles, keep_attention=plot)
            else:
                prediction = predict_features(path, bundles, *outcome.result(), keep_attention=plot)
            csv_path = out_dir / f"{stem}.csv"
            write_csv_atomic(prediction.curves, csv_path, float_format="%.6f")
            outputs = [str(csv_path)]
            if plot:
                plot_song(prediction, out_dir / f"{stem}.png", bundles=bundles)
                outputs.append(str(out_dir / f"{stem}.png"))
            row.update(duration_s=round(prediction.duration_s, 2), frames=len(prediction.curves),
                       **{f"{t}_mean": round(float(prediction.curves[t].mean()), 3) for t in bundles},
                       status="ok", output=", ".join(outputs))
        except MerError as error:
            log.info("skipped %s", error)  # reported on stderr after the summary
            reason = str(error).removeprefix(f"{path}: ")
            row.update(status="FAILED", output=reason, error=f"{path}: {reason}")
        rows.append(row)
    return pd.DataFrame(rows)


def run_predict(songs, *, model_dirs=None, models_root="models", out_dir="predictions",
                plot: bool = False, feature_set: str | None = None, progress: bool = True,
                echo=print, feature_worker: bool | None = None) -> int:
    """Load the bundles once, predict every song, print a summary; 0 if all succeeded,
    1 if any song failed. Errors before any song (no model...) raise ``MerError``.

    ``feature_worker`` (default: when this process has not imported torch yet, i.e. a cold
    ``mer predict``): compute the features in worker processes started first, while this
    one imports torch and loads the bundles (``mer.predict_worker``); same results.
    """
    from mer.predict_worker import FeatureWorker, worker_pays

    use_worker = worker_pays() if feature_worker is None else feature_worker
    worker = FeatureWorker() if use_worker and songs else None  # before torch is imported
    try:
        with _collector_paused(worker is not None):
            bundles = load_bundles(model_dirs, models_root=models_root, feature_set=feature_set)
            import pandas  # noqa: F401  (the summary and CSVs need it; imported while paused)
        if worker is not None:
            # a cold process: the collector need not walk torch's objects again, nor at exit
            # (Python's final collections over them cost ~0.5 s wall)
            gc.freeze()
        for target, bundle in bundles.items():
            echo(f"{target}: {bundle.model_name} on {bundle.feature_set} ({bundle.directory})")
        table = predict_files(songs, bundles, out_dir, plot=plot, progress=progress,
                              worker=worker)
    finally:
        if worker is not None:
            worker.close()
    shown = table.drop(columns=["error"], errors="ignore")
    shown["output"] = [text if len(text) <= 60 else text[:57] + "..." for text in shown["output"]]
    echo(shown.to_string(index=False))
    failed = int((table["status"] != "ok").sum()) if len(table) else 0
    if failed:  # the error column exists only when a song failed
        for reason in table.loc[table["status"] != "ok", "error"]:
            print(f"mer predict: skipped {reason}", file=sys.stderr)
    echo(f"{len(table) - failed} of {len(table)} song(s) predicted into {out_dir}"
         + (f"; {failed} failed" if failed else ""))
    return 1 if failed else 0
