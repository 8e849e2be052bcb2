"""Paper figures 1-6, from the workflow's out-of-fold results.

1. prediction over time for one clip (annotation, baseline, best model), A and V;
2. per-clip error histograms over out-of-fold clips, baseline vs best, A and V (2×2);
3. attention maps of the best AT model (attended × predicted frame), A and V, per clip;
4. annotated A and V curves with the most-attended frames marked;
5. chromagrams of the same clips, on the same time axis as the maps;
6. attention maps of the best BAT model (lower-triangular by construction).

Conventions shared by all figures: time axis in seconds (``mer.frames``); a curve point
is stamped at the end of its 500 ms frame, a map or chromagram cell spans its frame
[start, end), so the annotated span is 14.5-45.0 s everywhere. The same colour for the
same role in every figure (``COLORS``; maps use ``ATTENTION_CMAP``). Sized for the paper's
full text width (two 3.4 in columns), 7 pt text, written as PNG (300 dpi) and PDF.
The attention clips are ``report.attention_clips`` or, when null, ``choose_clips``: the
four out-of-fold clips around the median error of the best AT model (deterministic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mer.io import atomic_path

COLORS = {"annotation": "#222222", "baseline": "#8c8c8c", "best": "#d62728",
          "arousal": "#1f77b4", "valence": "#2ca02c", "attended": "#ff7f0e"}
ATTENTION_CMAP = "viridis"
CHROMA_CMAP = "magma"
COLUMN_WIDTH_IN = 3.4
DPI = 300  # PNG resolution (tests lower it to save time; the PDFs are vector graphics)
TEXT_WIDTH_IN = 2 * COLUMN_WIDTH_IN
N_CLIPS = 4  # clips drawn in Figures 3-6 when report.attention_clips is null
TOP_ATTENDED = 5  # frames marked in Figure 4


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only; no display on servers or in CI
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 7, "axes.titlesize": 7, "legend.fontsize": 6,
                         "savefig.dpi": DPI, "pdf.fonttype": 42})
    return plt


def median_error_clip(predictions: pd.DataFrame) -> int:
    """Song whose mean absolute error is the median one: a typical clip, not a showcase."""
    error = (predictions["prediction"] - predictions["annotation"]).abs().groupby(predictions["song_id"]).mean()
    ordered = error.sort_values(kind="stable")
    return int(ordered.index[(len(ordered) - 1) // 2])


def save_figure(fig, png_path: str | Path, pdf_path: str | Path) -> None:
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")


def plot_prediction_over_time(panels: list[dict], clip: int, *, title: str, png_path, pdf_path) -> None:
    """One panel per target: annotation, baseline and best model for ``clip``.

    ``panels``: dicts with ``target``, ``baseline`` and ``best`` (model names) and
    ``baseline_predictions`` / ``best_predictions`` (out-of-fold prediction tables).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(2 * COLUMN_WIDTH_IN, 1.5 * len(panels) + 0.4),
                             sharex=True, squeeze=False)
    for letter, ax, panel in zip("abcdefgh", axes[:, 0], panels):
        best = _clip_rows(panel["best_predictions"], clip)
        baseline = _clip_rows(panel["baseline_predictions"], clip)
        ax.plot(best["time_s"], best["annotation"], color=COLORS["annotation"], lw=1.2, label="annotation")
        if panel["baseline"] != panel["best"]:
            ax.plot(baseline["time_s"], baseline["prediction"], color=COLORS["baseline"], lw=1,
                    ls="--", label=f"baseline {panel['baseline']}")
        ax.plot(best["time_s"], best["prediction"], color=COLORS["best"], lw=1,
                label=f"best {panel['best']}")
        ax.set_ylabel(f"{panel['target']} [-1, 1]")
        ax.set_title(f"({letter}) {panel['target']}", loc="left")
        values = np.concatenate([best["annotation"], best["prediction"], baseline["prediction"]])
        pad = max(0.05, 0.15 * np.ptp(values))
        ax.set_ylim(max(-1.0, values.min() - pad), min(1.0, values.max() + pad))
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes[-1, 0].set_xlabel("time in clip (s)")
    fig.suptitle(title, fontsize=7)
    fig.tight_layout()
    save_figure(fig, png_path, pdf_path)
    plt.close(fig)


def _clip_rows(predictions: pd.DataFrame, clip: int) -> pd.DataFrame:
    rows = predictions[predictions["song_id"] == clip].sort_values("frame")
    if rows.empty:
        raise ValueError(f"clip {clip} has no out-of-fold predictions; pick a song id of the dataset")
    return rows


def figure1_prediction(summary_paths, *, dataset: str, feature_set: str, targets,
                       baseline_model: str, clip: int | None, png_path, pdf_path) -> int:
    """Figure 1 for ``feature_set``: baseline and best model (by mean R²) per target.

    Returns the clip drawn: ``clip`` if given, else the median-error clip of the first
    target's best model.
    """
    from mer.reports.tables import load_summaries, networks, select_best

    summaries = load_summaries(summary_paths)
    # out-of-fold predictions sit next to each summary (see rule summarize_cv)
    predictions = {(row.target, row.feature_set, row.model): Path(row.summary_path).with_name("predictions.csv")
                   for row in summaries.itertuples(index=False)}
    panels = []
    for target in targets:
        subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
        best = select_best(networks(subset))["model"]  # the best network (baselines are references)
        panels.append({"target": target, "best": best, "baseline": baseline_model,
                       "best_predictions": pd.read_csv(predictions[(target, feature_set, best)]),
                       "baseline_predictions": pd.read_csv(predictions[(target, feature_set, baseline_model)])})
    if clip is None:
        clip = median_error_clip(panels[0]["best_predictions"])
    suffix = " (synthetic data)" if dataset == "synthetic" else ""
    plot_prediction_over_time(panels, clip, png_path=png_path, pdf_path=pdf_path,
                              title=f"Clip {clip}, {feature_set} features, out-of-fold{suffix}")
    return clip


def _suffix(dataset: str) -> str:
    return " (synthetic data)" if dataset == "synthetic" else ""


def _predictions_path(summary_path) -> Path:
    return Path(summary_path).with_name("predictions.csv")


def best_model(summaries: pd.DataFrame, target: str, feature_set: str, family: str | None = None) -> pd.Series:
    """Best network (mean R²) for ``target`` and ``feature_set``, optionally of one family only
    (a baseline is chosen only when asked for by its name as ``family``)."""
    from mer.reports.summaries import family as family_of
    from mer.reports.tables import networks, select_best

    subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
    if family is None:
        subset = networks(subset)
    else:
        subset = subset[[family_of(m) == family for m in subset["model"]]]
    if subset.empty:
        what = f"{family} model" if family else "model"
        raise ValueError(f"no trained {what} for target {target!r} on feature set {feature_set!r}; "
                         f"add one on that feature set to the grid (`grids` in params.yaml)")
    return select_best(subset)


def per_clip_error(predictions: pd.DataFrame) -> pd.Series:
    """Mean absolute error of each out-of-fold clip, indexed by song id."""
    return (predictions["prediction"] - predictions["annotation"]).abs().groupby(predictions["song_id"]).mean()


def choose_clips(predictions: pd.DataFrame, n: int = N_CLIPS) -> list[int]:
    """The ``n`` clips around the median per-clip error (ties by song id): typical, not showcases."""
    ordered = per_clip_error(predictions).reset_index(name="error").sort_values(["error", "song_id"], kind="stable")
    ids = ordered["song_id"].to_list()
    start = max(0, (len(ids) - n) // 2)
    return sorted(int(i) for i in ids[start:start + n])


def resolve_clips(summaries: pd.DataFrame, clips, *, target: str, feature_set: str) -> list[int]:
    """``clips`` as given (checked against the out-of-fold songs), or ``choose_clips`` of the best AT."""
    best = best_model(summaries, target, feature_set, "AT")
    predictions = pd.read_csv(_predictions_path(best["summary_path"]))
    if clips is None:
        return choose_clips(predictions)
    unknown = sorted({int(c) for c in clips} - set(predictions["song_id"]))
    if unknown:
        raise ValueError(f"`report.attention_clips`: clips {unknown} are not songs of this dataset "
                         f"(known ids include {sorted(set(predictions['song_id']))[:8]}); use null to pick clips")
    return [int(c) for c in clips]


def load_attention(summary_path, song_id: int) -> np.ndarray:
    """(T, T) attention of ``song_id`` (row: predicted frame, column: attended frame).

    Read from the fold in which the song was a test song (its out-of-fold map), trained
    with the first training seed.
    """
    predictions = pd.read_csv(_predictions_path(summary_path))
    folds = predictions.loc[predictions["song_id"] == song_id, "fold"].unique()
    if len(folds) == 0:
        raise ValueError(f"clip {song_id} has no out-of-fold predictions next to {summary_path}")
    from mer.cv import load_song_attention
    path = Path(summary_path).with_name("seed0") / f"fold{int(folds[0])}" / "attention.npz"
    with np.load(path) as data:
        if not bool(data["has_attention"]):
            raise ValueError(f"{path}: this model stores no attention (only AT, BAT and Transformer do)")
        return np.asarray(load_song_attention(data, song_id, path), dtype=np.float64)


def _annotated_span(n_frames: int | None = None) -> tuple[float, float]:
    """Start and end (s) of ``n_frames`` annotated frames (default emoMusic's 61)."""
    from mer.frames import FIRST_ANNOTATED_FRAME, FRAME_SECONDS, N_ANNOTATED_FRAMES
    n_frames = N_ANNOTATED_FRAMES if n_frames is None else n_frames
    return FIRST_ANNOTATED_FRAME * FRAME_SECONDS, (FIRST_ANNOTATED_FRAME + n_frames) * FRAME_SECONDS


def _time_ticks(end: float, step: float) -> np.ndarray:
    """Ticks every ``step`` s from 15 s (where annotations start) up to ``end``."""
    return np.arange(15, end + 1e-9, step * max(1, int(np.ceil((end - 15) / (6 * step)))))


def plot_error_histograms(panels: list[dict], *, title: str, png_path, pdf_path) -> None:
    """Figure 2: one row per target, columns baseline | best; per-clip MAE, shared bins per row.

    ``panels``: dicts with ``target``, ``baseline``, ``best`` (names) and ``baseline_errors``,
    ``best_errors`` (per-clip MAE series).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(TEXT_WIDTH_IN, 1.6 * len(panels) + 0.5),
                             squeeze=False, sharey="row")
    letters = iter("abcdefgh")
    for row, panel in zip(axes, panels):
        both = np.concatenate([panel["baseline_errors"], panel["best_errors"]])
        bins = np.histogram_bin_edges(both, bins=min(20, max(5, len(both) // 8)))
        for ax, role in zip(row, ("baseline", "best")):
            errors = np.asarray(panel[f"{role}_errors"])
            ax.hist(errors, bins=bins, color=COLORS[role], edgecolor="white", lw=0.4)
            median = float(np.median(errors))
            ax.axvline(median, color=COLORS["annotation"], lw=0.8, ls=":", label=f"median {median:.3f}")
            ax.set_title(f"({next(letters)}) {panel['target']}: {role} {panel[role]}", loc="left")
            ax.set_xlabel("per-clip MAE (annotation scale [-1, 1])")
            ax.grid(alpha=0.3, lw=0.5)
            ax.legend(frameon=False, loc="upper right")
        row[0].set_ylabel("clips")
    fig.suptitle(title, fontsize=7)
    fig.tight_layout()
    save_figure(fig, png_path, pdf_path)
    plt.close(fig)


def figure2_error_histograms(summary_paths, *, dataset: str, feature_set: str, targets,
                             baseline_model: str, png_path, pdf_path) -> None:
    from mer.reports.tables import load_summaries

    summaries = load_summaries(summary_paths)
    panels = []
    for target in targets:
        best = best_model(summaries, target, feature_set)
        baseline = best_model(summaries[summaries["model"] == baseline_model], target, feature_set)
        panels.append({"target": target, "best": best["model"], "baseline": baseline_model,
                       "best_errors": per_clip_error(pd.read_csv(_predictions_path(best["summary_path"]))),
                       "baseline_errors": per_clip_error(pd.read_csv(_predictions_path(baseline["summary_path"])))})
    plot_error_histograms(panels, png_path=png_path, pdf_path=pdf_path,
                          title=f"Per-clip error of out-of-fold clips, {feature_set} features{_suffix(dataset)}")


def plot_attention_maps(maps: list[dict], clips: list[int], *, title: str, lower_triangular: bool,
                        png_path, pdf_path) -> None:
    """One row per target, one column per clip; one colour bar per row (its own scale).

    ``maps``: dicts with ``target``, ``model`` and ``weights`` (clip -> (T, T) array).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(maps), len(clips), figsize=(TEXT_WIDTH_IN, 1.75 * len(maps) + 0.5),
                             squeeze=False, constrained_layout=True)
    for row, panel in zip(axes, maps):
        # a few cells (e.g. BAT's second frame, which can only attend to the first) would
        # otherwise set the scale for all: the top 1 % are drawn at the colour bar's end
        shown = np.concatenate([_visible(panel["weights"][c], lower_triangular) for c in clips])
        vmax = float(np.percentile(shown, 99)) or 1.0
        for ax, clip in zip(row, clips):
            weights = panel["weights"][clip]
            start, end = _annotated_span(len(weights))
            if lower_triangular:  # cells a BAT model cannot attend to stay blank, not dark
                weights = np.ma.masked_where(np.triu(np.ones_like(weights, dtype=bool)), weights)
            image = ax.imshow(weights, origin="lower", extent=(start, end, start, end), cmap=ATTENTION_CMAP,
                              vmin=0.0, vmax=vmax, interpolation="nearest", aspect="equal")
            ax.set_title(f"{panel['model']}, {panel['target']}, clip {clip}", fontsize=6)
            ax.set_xlabel("attended frame (s)")
            ax.set_xticks(_time_ticks(end, 10))
            ax.set_yticks(_time_ticks(end, 10))
        row[0].set_ylabel("predicted frame (s)")
        extend = "max" if vmax < max(float(np.max(panel["weights"][c])) for c in clips) else "neither"
        fig.colorbar(image, ax=list(row), shrink=0.85, pad=0.01, label="attention weight", extend=extend)
    fig.suptitle(title, fontsize=7)
    save_figure(fig, png_path, pdf_path)
    plt.close(fig)


def _visible(weights: np.ndarray, lower_triangular: bool) -> np.ndarray:
    """The cells a model can attend to (strictly below the diagonal for BAT), flattened."""
    weights = np.asarray(weights)
    return weights[np.tril_indices(len(weights), k=-1)] if lower_triangular else weights.ravel()


def figure_attention_maps(summary_paths, *, dataset: str, feature_set: str, targets, clips, family: str,
                          png_path, pdf_path) -> list[int]:
    """Figure 3 (``family`` AT) or 6 (BAT): best model of the family per target. Returns the clips."""
    from mer.reports.tables import load_summaries

    summaries = load_summaries(summary_paths)
    clips = resolve_clips(summaries, clips, target=targets[0], feature_set=feature_set)
    from mer.reports.claims import TOP_SHARE_FRACTION, attention_concentration, song_attention

    maps, shares = [], []
    for target in targets:
        best = best_model(summaries, target, feature_set, family)
        maps.append({"target": target, "model": best["model"],
                     "weights": {c: load_attention(best["summary_path"], c) for c in clips}})
        # how far from flat, over every out-of-fold song (claims.md gives the same numbers)
        songs = song_attention(best["summary_path"], pd.read_csv(_predictions_path(best["summary_path"])))
        c = attention_concentration(songs, causal=family == "BAT")
        shares.append(f"{target} {c['top_share']:.0%}")
    kind = "lower-triangular: frame t attends to earlier frames only" if family == "BAT" else "attends to all frames"
    plot_attention_maps(maps, clips, lower_triangular=family == "BAT", png_path=png_path, pdf_path=pdf_path,
                        title=f"{family} attention maps ({kind}), {feature_set} features, "
                              f"out-of-fold{_suffix(dataset)}\nthe top {TOP_SHARE_FRACTION:.0%} of "
                              f"frames receive {', '.join(shares)} of the attention (flat: "
                              f"{c['uniform_top_share']:.0%})")
    return clips


def most_attended_frames(weights: np.ndarray, k: int = TOP_ATTENDED) -> np.ndarray:
    """Indices of the ``k`` frames that receive the most attention (mean over predicted frames)."""
    received = np.asarray(weights).mean(axis=0)
    return np.sort(np.argsort(-received, kind="stable")[:k])


def plot_attended_frames(clips_data: list[dict], *, title: str, png_path, pdf_path) -> None:
    """Figure 4: per clip, the annotated A and V curves with each target's most-attended frames.

    ``clips_data``: dicts with ``clip`` and ``curves`` (list of dicts ``target``, ``model``,
    ``time_s``, ``annotation``, ``attended`` (frame indices)).
    """
    plt = _pyplot()
    n = len(clips_data)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH_IN, 1.5 * nrows + 0.6), squeeze=False,
                             sharex=True, sharey=True)
    for ax, item in zip(axes.flat, clips_data):
        for curve in item["curves"]:
            color = COLORS.get(curve["target"], COLORS["annotation"])
            ax.plot(curve["time_s"], curve["annotation"], color=color, lw=1, label=f"{curve['target']} annotation")
            marked = curve["attended"]
            ax.plot(np.asarray(curve["time_s"])[marked], np.asarray(curve["annotation"])[marked], ls="none",
                    marker="o", ms=3.5, mfc=COLORS["attended"], mec=color, mew=0.8,
                    label=f"{curve['target']}: top {len(marked)} attended by {curve['model']}"
                    if item is clips_data[0] else None)
        ax.set_title(f"clip {item['clip']}: {', '.join(c['model'] + ' ' + c['target'] for c in item['curves'])}",
                     fontsize=6, loc="left")
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes[-1]:
        ax.set_xlabel("time in clip (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("annotation [-1, 1]")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=7)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    save_figure(fig, png_path, pdf_path)
    plt.close(fig)


def figure4_attended_frames(summary_paths, *, dataset: str, feature_set: str, targets, clips,
                            png_path, pdf_path) -> list[int]:
    from mer.reports.tables import load_summaries

    summaries = load_summaries(summary_paths)
    clips = resolve_clips(summaries, clips, target=targets[0], feature_set=feature_set)
    best = {t: best_model(summaries, t, feature_set, "AT") for t in targets}
    predictions = {t: pd.read_csv(_predictions_path(best[t]["summary_path"])) for t in targets}
    data = []
    for clip in clips:
        curves = []
        for target in targets:
            rows = _clip_rows(predictions[target], clip)
            curves.append({"target": target, "model": best[target]["model"], "time_s": rows["time_s"].to_numpy(),
                           "annotation": rows["annotation"].to_numpy(),
                           "attended": most_attended_frames(load_attention(best[target]["summary_path"], clip))})
        data.append({"clip": clip, "curves": curves})
    plot_attended_frames(data, png_path=png_path, pdf_path=pdf_path,
                         title=f"Annotations with the {TOP_ATTENDED} most-attended frames of the AT models "
                               f"(mean attention received), {feature_set} features{_suffix(dataset)}")
    return clips


def clip_chromagram(audio_path, hop_length: int = 2205, n_frames: int | None = None) -> np.ndarray:
    """(12, n) librosa chroma_stft of the annotated span of a clip (``n_frames`` annotated
    frames, default 61), ``hop_length`` samples per column."""
    from mer.runtime import import_librosa
    librosa = import_librosa()

    from mer.audio import load_audio
    from mer.frames import SAMPLE_RATE

    start, end = _annotated_span(n_frames)
    audio = load_audio(audio_path)[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
    return librosa.feature.chroma_stft(y=audio, sr=SAMPLE_RATE, hop_length=hop_length, n_fft=4096, center=False)


PITCH_CLASSES = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")


def plot_chromagrams(chromas: dict, *, title: str, png_path, pdf_path, n_frames=None) -> None:
    """Figure 5: one panel per clip, time axis = the maps' (the annotated span, seconds).

    ``n_frames``: clip -> its number of annotated frames (default 61 each)."""
    plt = _pyplot()
    clips = list(chromas)
    ncols = 2 if len(clips) > 1 else 1
    nrows = int(np.ceil(len(clips) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH_IN, 1.3 * nrows + 0.5), squeeze=False,
                             constrained_layout=True)
    for ax, clip in zip(axes.flat, clips):
        start, end = _annotated_span((n_frames or {}).get(clip))
        image = ax.imshow(chromas[clip], origin="lower", aspect="auto", extent=(start, end, -0.5, 11.5),
                          cmap=CHROMA_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_yticks(range(12), PITCH_CLASSES, fontsize=5)
        ax.set_xticks(_time_ticks(end, 5))
        ax.set_title(f"chroma (STFT), clip {clip}", fontsize=6, loc="left")
        ax.set_xlabel("time in clip (s)")
        ax.set_ylabel("pitch class")
    for ax in list(axes.flat)[len(clips):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes.flat), shrink=0.8, pad=0.01, label="chroma energy (max-normalised)")
    fig.suptitle(title, fontsize=7)
    save_figure(fig, png_path, pdf_path)
    plt.close(fig)


def figure5_chromagrams(summary_paths, *, dataset: str, raw_root, feature_set: str, targets, clips,
                        png_path, pdf_path) -> list[int]:
    from mer.data.layouts import dataset_layout
    from mer.reports.tables import load_summaries

    summaries = load_summaries(summary_paths)
    clips = resolve_clips(summaries, clips, target=targets[0], feature_set=feature_set)
    best = best_model(summaries, targets[0], feature_set, "AT")
    frames = pd.read_csv(_predictions_path(best["summary_path"])).groupby("song_id")["frame"].size()
    n_frames = {clip: int(frames[clip]) for clip in clips}
    audio_path = dataset_layout(dataset).audio_path
    chromas = {clip: clip_chromagram(audio_path(Path(raw_root), clip), n_frames=n_frames[clip])
               for clip in clips}
    plot_chromagrams(chromas, png_path=png_path, pdf_path=pdf_path, n_frames=n_frames,
                     title=f"Chromagrams of the attention-map clips (librosa chroma_stft, 50 ms hops), "
                           f"dataset: {dataset}")
    return clips
