from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORMAT_SAMPLE = REPO / "tests" / "data" / "emomusic-format-sample"


@pytest.fixture
def format_sample_root(tmp_path) -> Path:
    """A dataset root holding the real emoMusic annotation files' first rows."""
    import shutil
    root = tmp_path / "emomusic"
    shutil.copytree(FORMAT_SAMPLE, root / "annotations", ignore=shutil.ignore_patterns("README.md"))
    return root
