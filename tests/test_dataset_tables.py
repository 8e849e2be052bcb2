"""reports/tables/dataset.md: annotation statistics and single-feature shortcuts."""

import numpy as np
import pandas as pd
import pytest

from mer.data.emomusic import Annotations
from mer.features.storage import FeatureTable
from mer.reports.dataset import annotation_table, shortcut_table, top_correlations, write_dataset_tables


def _data(n_songs=40, n_frames=61, seed=0):
    rng = np.random.default_rng(seed)
    level = rng.normal(0, 0.3, n_songs)
    arousal = level[:, None] + 0.03 * rng.standard_normal((n_songs, n_frames))
    valence = 0.5 * level[:, None] + 0.2 * rng.standard_normal((n_songs, 1)) + 0.03 * rng.standard_normal((n_songs, n_frames))
    ids = np.arange(2, 2 + n_songs)
    annotations = Annotations(song_ids=ids, values={"arousal": arousal.astype(np.float32),
                                                    "valence": valence.astype(np.float32)})
    # column 0 follows arousal's song level exactly, column 1 weakly, column 2 is constant
    x = np.stack([np.repeat(level[:, None], n_frames, 1) + 0.1 * rng.standard_normal((n_songs, n_frames)),
                  0.2 * level[:, None] + rng.standard_normal((n_songs, n_frames)),
                  np.ones((n_songs, n_frames))], axis=-1).astype(np.float32)
    table = FeatureTable.from_padded(x, ids, ["loud", "weak", "flat"], "toy")
    return annotations, table, arousal, valence


def test_statistics_equal_the_generator_s_definition():
    from mer.data.synthetic import annotation_statistics
    annotations, _, arousal, valence = _data()
    table, n_songs, length = annotation_table(annotations)
    expected = annotation_statistics(arousal.astype(np.float32), valence.astype(np.float32))
    assert (n_songs, length) == (40, 61)
    row = table.set_index("statistic")
    assert row.loc["between_share", "arousal"] == pytest.approx(expected["between_share_arousal"])
    assert row.loc["lag1_autocorr", "valence"] == pytest.approx(expected["lag1_autocorr_valence"])
    assert row.loc["av_corr", "arousal"] == pytest.approx(expected["av_corr"])


def test_shortcut_finds_the_planted_feature_and_skips_constant_columns():
    annotations, table, arousal, _ = _data()
    shortcuts = shortcut_table(annotations, {"toy": table}).set_index("target")
    assert shortcuts.loc["arousal", "feature"] == "loud"
    means = np.array([table.song(s).mean(axis=0)[0] for s in annotations.song_ids], float)
    assert shortcuts.loc["arousal", "highest |r|"] == pytest.approx(abs(np.corrcoef(means, arousal.mean(1))[0, 1]))
    assert "flat" not in shortcuts.loc["arousal", "next"]
    assert top_correlations(np.ones((5, 2)), np.arange(5.0), ["a", "b"]) == []


def test_variable_length_songs_use_their_real_frames(tmp_path):
    annotations, table, _, _ = _data(n_songs=12)
    lengths = np.array([61] * 8 + [30] * 4)
    values = {t: v.copy() for t, v in annotations.values.items()}
    for t in values:
        values[t][8:, 30:] = np.nan
    ragged = Annotations(song_ids=annotations.song_ids, values=values, lengths=lengths)
    stats, n_songs, length = annotation_table(ragged)
    assert (n_songs, length) == (8, 61) and np.isfinite(stats[["arousal", "valence"]].to_numpy()).all()
    write_dataset_tables(ragged, {"toy": table}, dataset="synthetic", md_path=tmp_path / "d.md",
                         statistics_csv=tmp_path / "s.csv", shortcuts_csv=tmp_path / "c.csv")
    text = (tmp_path / "d.md").read_text()
    assert "NOT the paper's numbers" in text and "Single-feature shortcuts" in text
    assert len(pd.read_csv(tmp_path / "c.csv")) == 2
