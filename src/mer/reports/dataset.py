"""What a run's dataset is like: its annotation statistics and its single-feature shortcuts.

``reports/tables/dataset.md`` (and ``dataset_statistics.csv`` / ``dataset_shortcuts.csv``)
hold two tables computed from the run's own files, so that a sentence about the data (the
built-in set keeps the real annotations' statistics; no one feature gives arousal away)
rests on numbers of the same run:

* **annotation statistics** (``mer.data.synthetic.annotation_statistics``) over the songs
  whose annotation has the most common length (all of emoMusic's 61 frames; DEAM's
  45 s excerpts, not its full songs): mean and std over all frames, the share of the frame
  variance that lies between song means, the mean within-song std, the pooled lag-1
  autocorrelation of the within-song deviations, and corr(arousal, valence) over frames;
* **single-feature shortcuts**, per feature set of the grid and target: the highest |Pearson
  r| between one feature's song mean (over the song's real frames) and the song-mean
  annotation, over every song, with the next two. Constant columns are left out.

Conventions: targets are the dataset's (arousal, valence); song means are float64; a
feature set whose song count differs from the annotations' uses the songs both have.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

TOP = 3  # features listed per (feature set, target)


def annotation_table(annotations) -> tuple[pd.DataFrame, int, int]:
    """(statistic x target table, songs used, their frames) over the songs of the most
    common annotation length."""
    from mer.data.synthetic import annotation_statistics

    lengths = np.asarray(annotations.lengths)
    length = Counter(lengths.tolist()).most_common(1)[0][0]
    rows = lengths == length
    values = {t: np.asarray(annotations.values[t], float)[rows, :length] for t in ("arousal", "valence")}
    stats = annotation_statistics(values["arousal"], values["valence"])
    names = ("mean", "std", "between_share", "within_std", "lag1_autocorr")
    table = pd.DataFrame({"statistic": [*names, "av_corr"],
                          "arousal": [*(stats[f"{n}_arousal"] for n in names), stats["av_corr"]],
                          "valence": [*(stats[f"{n}_valence"] for n in names), stats["av_corr"]]})
    return table, int(rows.sum()), int(length)


def song_means(table, song_ids) -> np.ndarray:
    """(songs, dims) float64 mean over each song's real frames."""
    return np.stack([np.asarray(table.song(int(s)), np.float64).mean(axis=0) for s in song_ids])


def top_correlations(x: np.ndarray, y: np.ndarray, columns: list[str], top: int = TOP):
    """The ``top`` (column, r) with the highest |r| between a column of ``x`` and ``y``."""
    x = x - x.mean(axis=0)
    y = y - y.mean()
    scale = np.sqrt((x**2).sum(axis=0) * (y**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(scale > 0, (x * y[:, None]).sum(axis=0) / scale, np.nan)
    order = [i for i in np.argsort(-np.abs(np.nan_to_num(r, nan=0.0)), kind="stable") if np.isfinite(r[i])]
    return [(columns[i], float(r[i])) for i in order[:top]]


def shortcut_table(annotations, feature_tables: dict) -> pd.DataFrame:
    """One row per feature set x target: the highest single-feature song-mean |r|."""
    rows = []
    for name, table in feature_tables.items():
        songs = np.intersect1d(annotations.song_ids, table.song_ids)
        x = song_means(table, songs)
        positions = annotations.rows(songs)
        for target in ("arousal", "valence"):
            values = np.asarray(annotations.values[target], float)[positions]
            y = np.array([np.nanmean(v[:n]) for v, n in zip(values, annotations.lengths_of(songs))])
            top = top_correlations(x, y, list(table.columns))
            best = top[0] if top else ("–", np.nan)
            rows.append({"feature set": name, "target": target, "songs": len(songs),
                         "highest |r|": abs(best[1]), "feature": best[0], "r": best[1],
                         "next": ", ".join(f"{c} {r:+.2f}" for c, r in top[1:])})
    return pd.DataFrame(rows)


def write_dataset_tables(annotations, feature_tables: dict, *, dataset: str, md_path, statistics_csv,
                         shortcuts_csv, dataset_notes: dict | None = None) -> None:
    from mer.io import write_csv_atomic, write_text_atomic
    from mer.reports.tables import dataset_caption, dataset_note, to_markdown

    statistics, n_songs, length = annotation_table(annotations)
    shortcuts = shortcut_table(annotations, feature_tables)
    shown_stats = statistics.assign(arousal=statistics["arousal"].map(lambda v: f"{v:.3f}"),
                                    valence=statistics["valence"].map(lambda v: f"{v:.3f}"))
    shown_shortcuts = shortcuts.assign(**{"highest |r|": shortcuts["highest |r|"].map(lambda v: f"{v:.3f}"),
                                          "r": shortcuts["r"].map(lambda v: f"{v:+.3f}")})
    extra = dataset_note(dataset_notes)
    text = (to_markdown(shown_stats, f"Annotation statistics — {dataset_caption(dataset)}",
                        f"{n_songs} songs annotated over {length} frames (the most common length). "
                        "between_share: share of the frame variance between song means; within_std: "
                        "mean within-song std; lag1_autocorr: of the within-song deviations; av_corr: "
                        "corr(arousal, valence) over all frames." + (f" {extra}" if extra else ""))
            + "\n" + to_markdown(shown_shortcuts, f"Single-feature shortcuts — {dataset_caption(dataset)}",
                                 "Highest |Pearson r| between one feature's song mean and the song-mean "
                                 "annotation, over every song of the feature set; the next two beside it. "
                                 "A high value means one feature nearly gives the song's level away. The highest of "
                                 "many columns is biased upward by chance (more so with many columns and "
                                 "few songs: ComParE has 6373)."))
    write_csv_atomic(statistics, statistics_csv)
    write_csv_atomic(shortcuts, shortcuts_csv)
    write_text_atomic(text, md_path)
