"""Paper figures. Figure 1: predicted vs annotated emotion over time for one clip.

Conventions shared by all figures: time axis in seconds (the end of each 500 ms frame,
see ``mer.frames``), the same colour for the same role in every figure (``COLORS``),
sized for the paper's full text width (two 3.4 in columns) and written as PNG (300 dpi) and PDF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mer.io import atomic_path

COLORS = {"annotation": "#222222", "baseline": "#8c8c8c", "best": "#d62728"}
COLUMN_WIDTH_IN = 3.4


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only; no display on servers or in CI
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 7, "axes.titlesize": 7, "legend.fontsize": 6,
                         "savefig.dpi": 300, "pdf.fonttype": 42})
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
    from mer.reports.tables import load_summaries, select_best

    summaries = load_summaries(summary_paths)
    # out-of-fold predictions sit next to each summary (see rule summarize_cv)
    predictions = {(row.target, row.feature_set, row.model): Path(row.summary_path).with_name("predictions.csv")
                   for row in summaries.itertuples(index=False)}
    panels = []
    for target in targets:
        subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
        best = select_best(subset)["model"]
        panels.append({"target": target, "best": best, "baseline": baseline_model,
                       "best_predictions": pd.read_csv(predictions[(target, feature_set, best)]),
                       "baseline_predictions": pd.read_csv(predictions[(target, feature_set, baseline_model)])})
    if clip is None:
        clip = median_error_clip(panels[0]["best_predictions"])
    suffix = " (synthetic data)" if dataset == "synthetic" else ""
    plot_prediction_over_time(panels, clip, png_path=png_path, pdf_path=pdf_path,
                              title=f"Clip {clip}, {feature_set} features, out-of-fold{suffix}")
    return clip
