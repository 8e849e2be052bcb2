"""mer.io: atomic writes leave whole files, nothing on failure, and ordinary permissions."""

import os
import stat

import pytest

from mer.io import atomic_directory, atomic_path, write_text_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_files_and_folders_get_the_permissions_of_a_plain_write(tmp_path):
    old = os.umask(0o027)
    try:
        write_text_atomic("x", tmp_path / "table.md")
        with open(tmp_path / "plain.md", "w") as handle:
            handle.write("x")
        assert _mode(tmp_path / "table.md") == _mode(tmp_path / "plain.md") == 0o640
        with atomic_directory(tmp_path / "dataset") as staging:
            (staging / "a.csv").write_text("1")
        assert _mode(tmp_path / "dataset") == 0o750
    finally:
        os.umask(old)


def test_a_failed_write_leaves_neither_the_target_nor_a_temporary_file(tmp_path):
    write_text_atomic("old", tmp_path / "metrics.json")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "metrics.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "metrics.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
