"""Features of one clip or one file: frames in, (n_frames, dims) float32 per set out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mer.audio import load_audio
from mer.errors import AudioError, DataError
from mer.features.compare import check_compare_mode, compare_frames
from mer.features.registry import BLOCKS, FEATURE_SETS, feature_set
from mer.features.spectra import CONTEXT_SAMPLES, HOP_LENGTH, librosa_blocks
from mer.frames import FRAME_SAMPLES, SAMPLE_RATE, annotated_frame_indices, n_whole_frames


def extract_clip_features(audio: np.ndarray, set_names: list[str], *,
                          frames: np.ndarray | None = None,
                          compare_mode: str = "per_segment") -> dict[str, np.ndarray]:
    """Feature sets ``set_names`` of ``audio`` (mono, ``SAMPLE_RATE``) at whole-clip
    ``frames`` (default: every whole 500 ms frame) -> name -> (n_frames, dims) float32.

    Each block is computed once even when several sets share it, and only on the audio
    the requested frames need. ``AudioError`` if a frame lies outside the audio.
    """
    sets = [feature_set(name) for name in set_names]
    _check_computable(set_names)
    check_compare_mode(compare_mode)
    frames = _check_frames(audio, frames)
    needed = list(dict.fromkeys(block for s in sets for block in s.blocks))
    values = _compute_blocks(audio, needed, frames, compare_mode)
    return {s.name: np.concatenate([values[b] for b in s.blocks], axis=1) for s in sets}


def extract_file_features(path: str | Path, set_names: list[str], *,
                          annotated_only: bool = True, frames: np.ndarray | None = None,
                          compare_mode: str = "per_segment") -> dict[str, np.ndarray]:
    """``extract_clip_features`` of the file at ``path``: at whole-clip ``frames`` if
    given, else its 61 annotated frames (29..89) if ``annotated_only``, else all its whole
    frames. Errors name the file."""
    _check_computable(set_names)
    audio = load_audio(path)
    if frames is None:
        frames = annotated_frame_indices() if annotated_only else None
    try:
        return extract_clip_features(audio, set_names, frames=frames,
                                     compare_mode=compare_mode)
    except AudioError as error:
        raise AudioError(f"{path}: {error}") from None


def _check_computable(set_names: list[str]) -> None:
    precomputed = [name for name in set_names if feature_set(name).precomputed]
    if precomputed:
        raise DataError(f"feature set(s) {precomputed} are read from files the dataset ships "
                        f"(DEAM's features/<id>.csv), not computed from audio; choose one of "
                        f"{', '.join(n for n, s in FEATURE_SETS.items() if not s.precomputed)}")


def _check_frames(audio: np.ndarray, frames: np.ndarray | None) -> np.ndarray:
    available = n_whole_frames(audio.size)
    if frames is None:
        frames = np.arange(available)
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    if frames.size == 0:
        raise AudioError(f"no whole 500 ms frame to extract "
                         f"(audio is {audio.size / SAMPLE_RATE:.2f} s long)")
    outside = frames[(frames < 0) | (frames >= available)]
    if outside.size:
        raise AudioError(f"frame(s) {outside.tolist()} lie outside the audio: it decodes to "
                         f"{audio.size / SAMPLE_RATE:.2f} s (whole frames 0..{available - 1}), "
                         f"but {(int(frames.max()) + 1) * FRAME_SAMPLES / SAMPLE_RATE:.1f} s are "
                         f"needed for the frames asked for (the annotations' last sample); "
                         f"replace the file with a complete copy")
    return frames


def _compute_blocks(audio: np.ndarray, blocks: list[str], frames: np.ndarray,
                    compare_mode: str) -> dict[str, np.ndarray]:
    values = {}
    librosa_names = [b for b in blocks if BLOCKS[b].source == "librosa"]
    if librosa_names:
        cropped, offset = crop_for_frames(audio, frames)
        values.update(librosa_blocks(cropped, offset, librosa_names, frames))
    if "compare" in blocks:
        values["compare"] = compare_frames(audio, frames, compare_mode)
    if "deam_lld" in blocks:
        from mer.features.deam_features import deam_frames
        values["deam_lld"] = deam_frames(audio, frames)
    return values


def crop_for_frames(audio: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, int]:
    """The audio the librosa blocks of ``frames`` need, and the clip sample it starts at.

    ``CONTEXT_SAMPLES`` of margin each side (clipped to the clip); the start is a multiple
    of the hop so the cropped hops are the whole clip's hops.
    """
    start = int(frames.min()) * FRAME_SAMPLES - CONTEXT_SAMPLES
    start = max(0, start // HOP_LENGTH * HOP_LENGTH)
    stop = min(audio.size, (int(frames.max()) + 1) * FRAME_SAMPLES + CONTEXT_SAMPLES)
    return audio[start:stop], start
