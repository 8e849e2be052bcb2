"""``mer predict``: arousal and valence curves of any music file from exported bundles.

Conventions:

* Audio: anything ``mer.audio.load_audio`` reads (MP3, WAV, FLAC, OGG; any sample rate,
  mono or stereo; mixed to mono and resampled to ``frames.SAMPLE_RATE``), any length of at
  least one 500 ms frame.
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

import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mer.bundle import Bundle, find_bundles, load_bundle
from mer.errors import DataError, MerError
from mer.frames import SAMPLE_RATE, frame_end_times
from mer.io import atomic_path, write_csv_atomic

log = logging.getLogger(__name__)

TARGET_ORDER = ("arousal", "valence")
VALUE_RANGE = (-1.0, 1.0)  # the annotation scale the models were trained on
COLORS = {"arousal": "#d62728", "valence": "#1f77b4"}


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


def predict_song(path, bundles: dict[str, Bundle]) -> SongPrediction:
    """Features of every whole frame of ``path``, then each bundle's curve (and attention)."""
    from mer.audio import load_audio
    from mer.features import extract_clip_features
    from mer.training import predict

    path = Path(path)
    audio = load_audio(path)
    features: dict[str, np.ndarray] = {}
    by_mode: dict[str, set[str]] = {}
    for bundle in bundles.values():
        by_mode.setdefault(bundle.compare_mode, set()).add(bundle.predict_feature_set)
    try:
        for mode, sets in by_mode.items():  # each block computed once per mode
            features.update(extract_clip_features(audio, sorted(sets), compare_mode=mode))
    except MerError as error:
        raise type(error)(f"{path}: {error}") from None
    n_frames = next(iter(features.values())).shape[0]
    curves = {"time_s": frame_end_times(n_frames)}
    attention = {}
    for target, bundle in bundles.items():
        values, weights = predict(bundle.model,
                                  bundle.normalise(features[bundle.predict_feature_set])[None])
        curves[target] = np.clip(values[0].astype(np.float64), *VALUE_RANGE)
        if weights is not None:
            attention[target] = weights[0]
    return SongPrediction(path, audio.size / SAMPLE_RATE, pd.DataFrame(curves), attention)


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
        image = axis.imshow(prediction.attention[target], cmap="magma", aspect="auto",
                            extent=extent, interpolation="nearest")
        axis.set(title=f"{target} attention", xlabel="attended frame (s)",
                 ylabel="predicted frame (s)")
        fig.colorbar(image, ax=axis, shrink=0.8)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)


def predict_files(paths, bundles: dict[str, Bundle], out_dir, *, plot: bool = False,
                  progress: bool = True) -> pd.DataFrame:
    """Predict every song; a song that fails is reported and skipped. One row per song."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    rows = []
    songs = list(zip(map(Path, paths), output_stems(paths)))
    for path, stem in tqdm(songs, desc="predict", unit="song", disable=not progress):
        row = {"song": str(path), "duration_s": np.nan, "frames": 0}
        row.update({f"{t}_mean": np.nan for t in bundles})
        try:
            prediction = predict_song(path, bundles)
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
                echo=print) -> int:
    """Load the bundles once, predict every song, print a summary; 0 if all succeeded,
    1 if any song failed. Errors before any song (no model...) raise ``MerError``."""
    bundles = load_bundles(model_dirs, models_root=models_root, feature_set=feature_set)
    for target, bundle in bundles.items():
        echo(f"{target}: {bundle.model_name} on {bundle.feature_set} ({bundle.directory})")
    table = predict_files(songs, bundles, out_dir, plot=plot, progress=progress)
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
