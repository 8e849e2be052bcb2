"""Which file layout a dataset is in, and the few things the pipeline asks of a layout.

``synthetic``, ``emomusic`` and ``local`` are in the emoMusic layout (61 annotated frames
per song); ``deam`` in DEAM's (variable length). The rules and scripts ask this module,
never a loader directly, so a new layout is one entry in ``LAYOUTS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mer.data import deam, emomusic
from mer.data.emomusic import Annotations
from mer.errors import ConfigError


@dataclass(frozen=True)
class Layout:
    name: str
    load_annotations: Callable[[Path], Annotations]  # dataset root -> annotations
    audio_path: Callable[[Path, int], Path]  # dataset root, song id -> audio file
    precomputed_path: Callable[[Path, int], Path] | None = None  # -> shipped features file

    def input_paths(self, root: Path, song_ids, set_name: str) -> list[Path]:
        """Per song, the file a feature set is made from: its audio, or for a set the
        dataset ships precomputed (``deam260``) that file."""
        from mer.features import feature_set
        if not feature_set(set_name).precomputed:
            return [self.audio_path(root, s) for s in song_ids]
        if self.precomputed_path is None:
            raise ConfigError(f"feature set {set_name!r} is shipped only with DEAM; the "
                              f"{self.name} layout has no such files")
        return [self.precomputed_path(root, s) for s in song_ids]


LAYOUTS = {
    "emomusic": Layout("emomusic", emomusic.load_annotations, emomusic.clip_path),
    "deam": Layout("deam", lambda root: deam.load_deam_annotations(root).as_annotations(),
                   deam.audio_path, deam.feature_path),
}


def dataset_layout(dataset: str) -> Layout:
    """The layout of the ``dataset`` named in params.yaml."""
    return LAYOUTS["deam" if dataset == "deam" else "emomusic"]
