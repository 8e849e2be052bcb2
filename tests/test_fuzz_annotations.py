"""Fuzzing the annotation parsers: emoMusic's and DEAM's CSVs with random damage.

Starting from the real emoMusic format sample (tests/data/emomusic-format-sample) and a
DEAM copy in its distributed form (tests/dataset_builders.py), one file is damaged at
random (cut, bytes inserted or replaced, lines dropped or repeated, a cell replaced by
``nan``, ``1e999``, text...) and the public loader is called: it must return or raise a
``MerError``, never another exception, within the deadline (tests/fuzz_settings.py).
"""

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_settings import apply_damage, damage_strategy, only_mer_errors
from dataset_builders import FORMAT_SAMPLE, DEAM_DYNAMIC, DEAM_STATIC, deam_dynamic_csv
from mer.data.deam import load_deam_annotations
from mer.data.emomusic import load_annotations
from mer.errors import MerError

pytestmark = pytest.mark.fuzz

# Found by this suite in mer.data.emomusic (helper real's file, not fixed on this branch;
# the same search found mer.data.deam.read_static's, fixed on main since):
# each is reproduced by a strict xfail test below; delete the entry once it is fixed.
KNOWN_BUGS = frozenset()  # none left: the emoMusic parsers' escapes are fixed (tests below)

EMOMUSIC_FILES = ["arousal_cont_average.csv", "valence_cont_average.csv", "arousal_cont_std.csv",
                  "songs_info.csv"]
DEAM_FILES = [f"{DEAM_DYNAMIC}/arousal.csv", f"{DEAM_DYNAMIC}/valence.csv",
              f"{DEAM_STATIC}/static_annotations_averaged_songs_1_2000.csv"]


def _deam_copy(root):
    (root / DEAM_DYNAMIC).mkdir(parents=True)
    (root / DEAM_STATIC).mkdir(parents=True)
    lengths = {2: 60, 3: 60, 2001: 75}
    for target in ("arousal", "valence"):
        (root / DEAM_DYNAMIC / f"{target}.csv").write_text(deam_dynamic_csv(target, lengths))
    (root / DEAM_STATIC / "static_annotations_averaged_songs_1_2000.csv").write_text(
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n2, 3, 0.9, 6, 1.1\n"
        "3, 3.1, 0.9, 6.1, 1.1\n")
    return root


@given(file=st.sampled_from(EMOMUSIC_FILES), edits=damage_strategy())
def test_damaged_emomusic_annotations_raise_only_mer_errors(tmp_path_factory, file, edits):
    root = tmp_path_factory.mktemp("emomusic")
    shutil.copytree(FORMAT_SAMPLE, root / "annotations", ignore=shutil.ignore_patterns("README.md"))
    path = root / "annotations" / file
    path.write_bytes(apply_damage(path.read_bytes(), edits))
    only_mer_errors(lambda: load_annotations(root), KNOWN_BUGS)


@given(file=st.sampled_from(DEAM_FILES), edits=damage_strategy())
def test_damaged_deam_annotations_raise_only_mer_errors(tmp_path_factory, file, edits):
    root = _deam_copy(tmp_path_factory.mktemp("deam"))
    path = root / file
    path.write_bytes(apply_damage(path.read_bytes(), edits))
    only_mer_errors(lambda: load_deam_annotations(root), KNOWN_BUGS)


def _sample_with(tmp_path, file, edit):
    root = tmp_path / "emomusic"
    shutil.copytree(FORMAT_SAMPLE, root / "annotations", ignore=shutil.ignore_patterns("README.md"))
    path = root / "annotations" / file
    path.write_bytes(edit(path.read_bytes()))
    return root


@pytest.mark.parametrize("file, edit", [
    ("songs_info.csv", lambda data: b""),
    ("songs_info.csv", lambda data: data.replace(b"\n3,", b"\n3,x,y,z,", 1)),
    ("songs_info.csv", lambda data: data.replace(b"song_id", b"songid", 1)),
    ("songs_info.csv", lambda data: data.replace(b"\n2,", b"\nabc,", 1)),
    ("songs_info.csv", lambda data: b"\x80" + data),
    ("arousal_cont_std.csv", lambda data: data.split(b"\n")[0] + b"\n" + data),
], ids=["empty", "extra-fields", "no-song_id", "text-id", "not-utf8", "repeated-header"])
def test_damaged_emomusic_files_found_by_fuzzing_are_mer_errors(tmp_path, file, edit):
    # found by the property above: pandas/Python errors escaped read_songs_info and
    # read_continuous (an empty file, extra fields, no song_id, a text id, non-UTF-8, a
    # repeated header line)
    root = _sample_with(tmp_path, file, edit)
    with pytest.raises(MerError, match=file):
        load_annotations(root)


@pytest.mark.parametrize("edit", [lambda data: b"", lambda data: b"\x80" + data,
                                  lambda data: data.replace(b"0.9", b"abc", 1)],
                         ids=["empty", "not-utf8", "text-rating"])
def test_damaged_deam_static_files_are_mer_errors(tmp_path, edit):
    # found by the property above (pandas errors escaped read_static); fixed on main since
    root = _deam_copy(tmp_path / "deam")
    path = root / DEAM_FILES[2]
    path.write_bytes(edit(path.read_bytes()))
    with pytest.raises(MerError):
        load_deam_annotations(root)
