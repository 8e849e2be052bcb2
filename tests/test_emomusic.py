import numpy as np
import pandas as pd
import pytest

from mer.data.emomusic import (CONTINUOUS_COLUMNS, check_audio_present, clip_path,
                               load_annotations, read_songs_info)
from mer.errors import DataError


def test_loads_real_format_sample(format_sample_root):
    annotations = load_annotations(format_sample_root)
    assert annotations.song_ids.tolist() == [2, 3, 4, 5, 7]
    assert annotations.target("arousal").shape == (5, 61)
    assert annotations.target("valence").dtype == np.float32
    assert annotations.stds["arousal"].shape == (5, 61)
    raw = pd.read_csv(format_sample_root / "annotations" / "arousal_cont_average.csv")
    first = raw.set_index("song_id").loc[annotations.song_ids[0]].to_numpy(np.float32)
    np.testing.assert_array_equal(annotations.target("arousal")[0], first)


def test_continuous_columns_are_the_61_samples():
    assert len(CONTINUOUS_COLUMNS) == 61
    assert CONTINUOUS_COLUMNS[0] == "sample_15000ms" and CONTINUOUS_COLUMNS[-1] == "sample_45000ms"


def test_songs_info_tabs_are_stripped(format_sample_root):
    path = format_sample_root / "annotations" / "songs_info.csv"
    assert "\t" in path.read_text()  # the quirk is really in the file
    info = read_songs_info(path)
    assert info.loc[2, "file_name"] == "2.mp3"
    assert info.loc[3, "Mediaeval 2013 set"] == "evaluation"
    assert not info.apply(lambda c: c.str.contains("\t")).any().any()


def test_rows_maps_ids_to_positions(format_sample_root):
    annotations = load_annotations(format_sample_root)
    ids = annotations.song_ids[::-1]
    np.testing.assert_array_equal(annotations.song_ids[annotations.rows(ids)], ids)
    with pytest.raises(DataError, match="without annotations"):
        annotations.rows([999999])


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="arousal_cont_average.csv.*not found"):
        load_annotations(tmp_path)


def test_missing_column_is_reported(format_sample_root):
    path = format_sample_root / "annotations" / "valence_cont_average.csv"
    table = pd.read_csv(path).drop(columns=["sample_30000ms"])
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match="valence_cont_average.csv: missing column.*sample_30000ms"):
        load_annotations(format_sample_root)


def test_nan_value_is_reported_with_song(format_sample_root):
    path = format_sample_root / "annotations" / "arousal_cont_average.csv"
    table = pd.read_csv(path)
    table.loc[1, "sample_20000ms"] = np.nan
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match=f"missing values for song.*{table.loc[1, 'song_id']}"):
        load_annotations(format_sample_root)


def test_targets_must_cover_same_songs(format_sample_root):
    path = format_sample_root / "annotations" / "valence_cont_average.csv"
    pd.read_csv(path).iloc[:-1].to_csv(path, index=False)
    with pytest.raises(DataError, match="list different songs"):
        load_annotations(format_sample_root)


def test_missing_audio_is_named(format_sample_root):
    annotations = load_annotations(format_sample_root)
    clip_path(format_sample_root, annotations.song_ids[0]).parent.mkdir(parents=True)
    clip_path(format_sample_root, annotations.song_ids[0]).write_bytes(b"x")
    with pytest.raises(DataError, match=f"{annotations.song_ids[1]}.mp3"):
        check_audio_present(format_sample_root, annotations.song_ids)
