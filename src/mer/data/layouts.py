"""Which file layout a dataset is in, and the few things the pipeline asks of a layout.

``synthetic``, ``emomusic`` and ``local`` are in the emoMusic layout (61 annotated frames
per song); ``deam`` in DEAM's (variable length). The rules and scripts ask this module,
never a loader directly, so a new layout is one entry in ``LAYOUTS``.

An imported copy (``datasets.local.path``, DEAM) holds ``mer.data.check.IMPORT_FILE``:
the songs the import's check found usable (all annotated songs, or with
``allow_missing_audio`` those with audio), its notes, and each clip's original path.
``Layout.load_annotations`` returns only those songs, so every job (features, folds,
training, export) sees the same song list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mer.data import deam, emomusic
from mer.data.emomusic import Annotations
from mer.errors import ConfigError, DataError

IMPORT_FILE = "mer_import.json"  # written by mer.data.check's imports


def import_record(root: str | Path) -> dict | None:
    """The import's record of an imported copy (see the module docstring), or None."""
    path = Path(root) / IMPORT_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: unreadable import record ({error}); delete {Path(root)} and "
                        f"run the import again") from error
    return record


def _select_imported(root: Path, annotations: Annotations) -> Annotations:
    record = import_record(root)
    if record is None:
        return annotations
    wanted = np.asarray(sorted(int(s) for s in record["song_ids"]), dtype=np.int64)
    rows = annotations.rows(wanted)
    return Annotations(song_ids=wanted,
                       values={t: v[rows] for t, v in annotations.values.items()},
                       stds={t: v[rows] for t, v in annotations.stds.items()},
                       info=annotations.info, lengths=annotations.lengths[rows])


def user_file_names(root: str | Path) -> dict[str, str]:
    """Clip path in the imported copy -> the user's original file (empty if not recorded),
    so errors can name the file the user can fix rather than the read-only copy."""
    record = import_record(root) or {}
    layout_name = "deam" if record.get("dataset") == "deam" else "emomusic"
    audio_path = LAYOUTS[layout_name].audio_path
    return {str(audio_path(Path(root), int(song))): source
            for song, source in record.get("audio_sources", {}).items()}


def name_user_files(message: str, root: str | Path) -> str:
    """``message`` with every imported clip path replaced by the user's own file."""
    for copy, source in sorted(user_file_names(root).items(), key=lambda kv: -len(kv[0])):
        message = message.replace(copy, f"{source} (imported as {copy})")
    return message


@dataclass(frozen=True)
class Layout:
    name: str
    read_annotations: Callable[[Path], Annotations]  # dataset root -> every annotated song
    audio_path: Callable[[Path, int], Path]  # dataset root, song id -> audio file
    precomputed_path: Callable[[Path, int], Path] | None = None  # -> shipped features file

    def load_annotations(self, root) -> Annotations:
        """The annotations of the songs the pipeline uses (an import's selection, if any)."""
        return _select_imported(Path(root), self.read_annotations(Path(root)))

    def input_paths(self, root: Path, song_ids, precomputed: bool) -> list[Path]:
        """Per song, the file a feature set is made from: its audio, or for a set the
        dataset ships precomputed (``deam260``; ``precomputed`` True) that file."""
        if not precomputed:
            return [self.audio_path(root, s) for s in song_ids]
        if self.precomputed_path is None:
            raise ConfigError(f"this feature set is shipped only with DEAM; the {self.name} "
                              f"layout has no such files")
        return [self.precomputed_path(root, s) for s in song_ids]


LAYOUTS = {
    "emomusic": Layout("emomusic", emomusic.load_annotations, emomusic.clip_path),
    "deam": Layout("deam", lambda root: deam.load_deam_annotations(root).as_annotations(),
                   deam.audio_path, deam.feature_path),
}


def dataset_layout(dataset: str) -> Layout:
    """The layout of the ``dataset`` named in params.yaml."""
    return LAYOUTS["deam" if dataset == "deam" else "emomusic"]
