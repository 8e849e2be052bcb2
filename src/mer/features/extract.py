"""Features of one clip or one file: frames in, (n_frames, dims) float32 per set out.

Files are processed in pieces (``extract_stream_features``): the audio is decoded block by
block (``mer.audio.stream_audio``) and the frames are computed ``chunk_frames`` at a time,
each piece on the audio its frames need plus ``CONTEXT_SAMPLES`` either side (the same
crop as ``crop_for_frames``), so memory does not grow with the file's length. The frame
grid is the whole file's; the values equal the whole-clip computation
(``extract_clip_features(load_audio(path))``): exactly for ComParE ``per_segment`` and the
STFT blocks, to float32 rounding for the CQT blocks (its multi-rate resampling of a
shorter signal differs in the last bits), as ``tests/test_features.py`` checks with small
pieces forced. ComParE ``one_pass`` (and any block of source ``opensmile_lld``) runs
openSMILE once from the clip start (its RASTA filter is recursive), so it still holds the
decoded mono audio (~635 MB per hour).

Processes can split one file (``mer predict``, ``mer.predict_worker``): each reads the
whole stream and computes its share of the (piece, block family) tasks
(``extract_stream_part``); ``join_stream_parts`` of all shares is exactly
``extract_stream_features``, which is itself the join of one share.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mer.audio import stream_audio
from mer.errors import AudioError, DataError
from mer.features.compare import check_compare_mode, compare_frames
from mer.features.registry import BLOCKS, FEATURE_SETS, feature_set
from mer.features.spectra import CONTEXT_SAMPLES, HOP_LENGTH, librosa_blocks
from mer.frames import FRAME_SAMPLES, SAMPLE_RATE, annotated_frame_indices, n_whole_frames

CHUNK_FRAMES = 120  # frames per piece of a file: 60 s (+ 4 s of context)
# Blocks computed from the CQT. librosa 0.11 runs the CQT's lowest octave at sr / 128 with a
# 1024-point FFT, so shorter audio than 1024 * 128 / 44100 = 2.97 s is mostly padding there
# (librosa warns "n_fft=1024 is too large"); a file must last MIN_CQT_SECONDS for them.
CQT_BLOCKS = ("cqt", "chroma_cqt", "cens")
MIN_CQT_SECONDS = 3.0


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
                          compare_mode: str = "per_segment",
                          chunk_frames: int = CHUNK_FRAMES) -> dict[str, np.ndarray]:
    """``extract_clip_features`` of the file at ``path``, in pieces of ``chunk_frames``
    (see the module docstring): at whole-clip ``frames`` if given, else its 61 annotated
    frames (29..89) if ``annotated_only``, else all its whole frames. Errors name the file."""
    return extract_path_features(path, set_names, annotated_only=annotated_only, frames=frames,
                                 compare_mode=compare_mode, chunk_frames=chunk_frames)[0]


def extract_path_features(path: str | Path, set_names: list[str], *,
                          annotated_only: bool = False, frames: np.ndarray | None = None,
                          compare_mode: str = "per_segment", chunk_frames: int = CHUNK_FRAMES
                          ) -> tuple[dict[str, np.ndarray], int]:
    """``extract_file_features`` (default: all whole frames) and the number of samples
    decoded (at ``SAMPLE_RATE``)."""
    part = extract_path_part(path, set_names, annotated_only=annotated_only, frames=frames,
                             compare_mode=compare_mode, chunk_frames=chunk_frames)
    return join_stream_parts([part], set_names, frames=_wanted_frames(frames, annotated_only))


def extract_path_part(path: str | Path, set_names: list[str], *, part: tuple[int, int] = (0, 1),
                      annotated_only: bool = False, frames: np.ndarray | None = None,
                      compare_mode: str = "per_segment", chunk_frames: int = CHUNK_FRAMES
                      ) -> StreamPart:
    """``extract_stream_part`` of the file at ``path``; errors name the file."""
    _check_computable(set_names)
    try:
        return extract_stream_part(stream_audio(path), set_names, part=part,
                                   frames=_wanted_frames(frames, annotated_only),
                                   compare_mode=compare_mode, chunk_frames=chunk_frames)
    except AudioError as error:
        raise AudioError(str(error) if str(path) in str(error) else f"{path}: {error}") from None


def _wanted_frames(frames, annotated_only: bool):
    return annotated_frame_indices() if frames is None and annotated_only else frames


def extract_stream_features(blocks: Iterable[np.ndarray], set_names: list[str], *,
                            frames: np.ndarray | None = None,
                            compare_mode: str = "per_segment",
                            chunk_frames: int = CHUNK_FRAMES
                            ) -> tuple[dict[str, np.ndarray], int]:
    """Features of the audio whose mono ``SAMPLE_RATE`` blocks are ``blocks``, at whole-clip
    ``frames`` (default: every whole frame), computed ``chunk_frames`` frames at a time,
    and the number of samples. Every block is consumed (so the decoder's checks run).

    ``AudioError`` if a frame lies outside the audio, or if a CQT block is asked of audio
    shorter than ``MIN_CQT_SECONDS``.
    """
    part = extract_stream_part(blocks, set_names, frames=frames, compare_mode=compare_mode,
                               chunk_frames=chunk_frames)
    return join_stream_parts([part], set_names, frames=frames)


@dataclass
class StreamPart:
    """What part ``i`` of ``n`` (``extract_stream_part``) computed of one stream.

    ``pieces``: (group number, the group's frames, block -> (len(frames), dims) values) of
    the (group, block) tasks of this part; ``n_samples``: the stream's length. ``whole``:
    set name -> values when the blocks need the audio from the clip start, which part 0
    computes alone (the other parts hold None there and decode nothing).
    """
    n_samples: int
    pieces: list[tuple[int, np.ndarray, dict[str, np.ndarray]]] = field(default_factory=list)
    whole: dict[str, np.ndarray] | None = None


def block_family(block: str) -> int:
    """Blocks that share a spectrum share a family (0 CQT, 1 other librosa, 2 openSMILE): a
    part computes all blocks of a family for a group, so no spectrum is computed twice."""
    return 0 if block in CQT_BLOCKS else 1 if BLOCKS[block].source == "librosa" else 2


def extract_stream_part(blocks: Iterable[np.ndarray], set_names: list[str], *,
                        part: tuple[int, int] = (0, 1), frames: np.ndarray | None = None,
                        compare_mode: str = "per_segment", chunk_frames: int = CHUNK_FRAMES
                        ) -> StreamPart:
    """Part ``part = (i, n)`` of ``extract_stream_features``, for ``n`` processes that each
    read the whole stream: frame group ``g`` (``chunk_frames`` frames, numbered from 0)
    and block family ``f`` (``block_family``) is part ``(g + f) % n``'s task, so one part
    of a short song still gets CQT and STFT work. Each block of a group is computed on the
    same crop as with ``n = 1``, so ``join_stream_parts`` of all parts equals
    ``extract_stream_features`` exactly. Every part raises the stream's errors (decoder,
    length, frames outside the audio) at the same point.
    """
    index, n_parts = part
    if not 0 <= index < n_parts:
        raise ValueError(f"part {part} is not (i, n) with 0 <= i < n")
    sets = [feature_set(name) for name in set_names]
    _check_computable(set_names)
    check_compare_mode(compare_mode)
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    needed = list(dict.fromkeys(block for s in sets for block in s.blocks))
    # ComParE one_pass and openSMILE LLD blocks run openSMILE from the clip start (RASTA
    # filtering is recursive): they get the whole decoded audio, in one piece.
    from_start = ("compare" in needed and compare_mode == "one_pass"
                  or any(BLOCKS[b].source == "opensmile_lld" for b in needed))
    if from_start:
        if index:
            return StreamPart(0)
        audio = np.concatenate([np.zeros(0, np.float32), *blocks])
        _check_min_length(audio.size, needed, set_names)
        return StreamPart(int(audio.size), whole=extract_clip_features(
            audio, set_names, frames=frames, compare_mode=compare_mode))
    pieces = _Pieces(iter(blocks))
    groups = _FrameGroups(frames, int(chunk_frames))
    computed: list[tuple[int, np.ndarray, dict[str, np.ndarray]]] = []
    n_groups = 0
    for number, group in enumerate(groups):
        pieces.read_until((int(group.max()) + 1) * FRAME_SAMPLES + CONTEXT_SAMPLES)
        if pieces.exhausted:
            _check_min_length(pieces.total, needed, set_names)
            group = _frames_inside(group, pieces.total, explicit=frames is not None)
            if group is None:  # every whole frame done
                break
        n_groups += 1
        mine = [b for b in needed if (number + block_family(b)) % n_parts == index]
        if mine:
            audio, offset = pieces.crop(group)
            computed.append((number, group, _compute_blocks(audio, mine, group, compare_mode,
                                                            offset)))
        pieces.forget_before(groups.next_start())
    pieces.read_until(None)  # the rest: the decoder's checks (truncation, NaN) run at its end
    _check_min_length(pieces.total, needed, set_names)
    if not n_groups:
        raise AudioError(f"no whole 500 ms frame to extract "
                         f"(audio is {pieces.total / SAMPLE_RATE:.2f} s long)")
    return StreamPart(pieces.total, computed)


def join_stream_parts(parts: list[StreamPart], set_names: list[str], *,
                      frames: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], int]:
    """``extract_stream_features``'s result from every part of one stream (any order)."""
    sets = [feature_set(name) for name in set_names]
    if len({part.n_samples for part in parts if part.whole is not None or part.pieces}) > 1:
        raise ValueError("parts of different streams")
    whole = [part for part in parts if part.whole is not None]
    if whole:
        return whole[0].whole, whole[0].n_samples
    needed = list(dict.fromkeys(block for s in sets for block in s.blocks))
    by_group: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for part in parts:
        for number, group, values in part.pieces:
            by_group.setdefault(number, (group, {}))[1].update(values)
    numbers = sorted(by_group)
    if numbers != list(range(len(numbers))) or any(
            set(by_group[n][1]) != set(needed) for n in numbers):
        raise ValueError("parts do not cover every (group, block) task")
    values = {block: np.concatenate([by_group[n][1][block] for n in numbers]) for block in needed}
    order = np.concatenate([by_group[n][0] for n in numbers])
    if frames is not None:  # back to the order (and repeats) asked for
        wanted = np.asarray(frames, dtype=np.int64).reshape(-1)
        rows = np.searchsorted(order, wanted)
        values = {block: array[rows] for block, array in values.items()}
    return ({s.name: np.concatenate([values[b] for b in s.blocks], axis=1) for s in sets},
            parts[0].n_samples)


def _check_min_length(n_samples: int, blocks: list[str], set_names: list[str]) -> None:
    if n_samples < MIN_CQT_SECONDS * SAMPLE_RATE and any(b in CQT_BLOCKS for b in blocks):
        raise AudioError(f"audio is {n_samples / SAMPLE_RATE:.2f} s long; the "
                         f"{', '.join(set_names)} features need at least {MIN_CQT_SECONDS:g} s "
                         f"(their CQT's lowest octave needs {MIN_CQT_SECONDS:g} s of audio); "
                         "give a longer or complete file")


class _FrameGroups:
    """Sorted frames in groups spanning fewer than ``chunk`` frames; with ``frames`` None,
    0..chunk-1, chunk..2 chunk-1, ... without end (the stream's length decides)."""

    def __init__(self, frames, chunk: int):
        self.chunk = chunk
        self.explicit = None
        if frames is not None:
            wanted = np.unique(np.asarray(frames, dtype=np.int64).reshape(-1))
            if wanted.size == 0:
                raise AudioError("no frame to extract (an empty list of frames was given)")
            if wanted[0] < 0:
                raise AudioError(f"frame(s) {wanted[wanted < 0].tolist()} lie outside the audio "
                                 "(frames are numbered from 0)")
            cuts = []
            first = wanted[0]
            for i, k in enumerate(wanted):
                if k - first >= chunk:
                    cuts.append(i)
                    first = k
            self.explicit = np.split(wanted, cuts)
        self.index = 0

    def __iter__(self):
        while True:
            if self.explicit is not None:
                if self.index >= len(self.explicit):
                    return
                group = self.explicit[self.index]
            else:
                group = np.arange(self.index * self.chunk, (self.index + 1) * self.chunk)
            self.index += 1
            yield group

    def next_start(self) -> int | None:
        """First clip sample the next group can need (None: no next group)."""
        if self.explicit is not None:
            if self.index >= len(self.explicit):
                return None
            first = int(self.explicit[self.index][0])
        else:
            first = self.index * self.chunk
        return max(0, (first * FRAME_SAMPLES - CONTEXT_SAMPLES) // HOP_LENGTH * HOP_LENGTH)


def _frames_inside(group: np.ndarray, n_samples: int, *, explicit: bool) -> np.ndarray | None:
    """``group`` cut to the whole frames of ``n_samples``; AudioError for requested frames
    outside the audio (as ``_check_frames``); None if nothing is left of an open group."""
    available = n_whole_frames(n_samples)
    if explicit:
        outside = group[group >= available]
        if outside.size:
            raise _outside_error(outside, n_samples, int(group.max()))
        return group
    group = group[group < available]
    return group if group.size else None


class _Pieces:
    """The decoded audio a piece needs: a buffer of clip samples ``[start, start + size)``."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.buffer = np.zeros(0, dtype=np.float32)
        self.start = 0
        self.total = 0
        self.exhausted = False

    def read_until(self, stop: int | None) -> None:
        """Decode until clip sample ``stop`` is buffered (None: to the end)."""
        new = []
        while not self.exhausted and (stop is None or self.total < stop):
            block = next(self.blocks, None)
            if block is None:
                self.exhausted = True
                break
            block = np.asarray(block, dtype=np.float32).reshape(-1)
            self.total += block.size
            if stop is not None:  # when draining, nothing more is kept
                new.append(block)
        if new:
            self.buffer = np.concatenate([self.buffer, *new])

    def crop(self, group: np.ndarray) -> tuple[np.ndarray, int]:
        """The audio ``crop_for_frames`` would cut from the whole clip for ``group``."""
        start, stop = _crop_bounds(group, self.total)
        if start < self.start:
            raise AssertionError("a piece needs audio that was already dropped")
        return self.buffer[start - self.start:stop - self.start], start

    def forget_before(self, sample: int | None) -> None:
        drop = self.start + self.buffer.size if sample is None else sample
        drop = min(max(drop - self.start, 0), self.buffer.size)
        if drop:
            self.buffer = self.buffer[drop:].copy()  # a copy frees the dropped samples
            self.start += drop


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
        raise _outside_error(outside, audio.size, int(frames.max()))
    return frames


def _outside_error(outside: np.ndarray, n_samples: int, last_frame: int) -> AudioError:
    available = n_whole_frames(n_samples)
    return AudioError(f"frame(s) {outside.tolist()} lie outside the audio: it decodes to "
                      f"{n_samples / SAMPLE_RATE:.2f} s (whole frames 0..{available - 1}), "
                      f"but {(last_frame + 1) * FRAME_SAMPLES / SAMPLE_RATE:.1f} s are "
                      f"needed for the frames asked for (the annotations' last sample); "
                      f"replace the file with a complete copy")


def _compute_blocks(audio: np.ndarray, blocks: list[str], frames: np.ndarray,
                    compare_mode: str, offset: int = 0) -> dict[str, np.ndarray]:
    """Blocks of whole-clip ``frames`` from ``audio``, which starts at clip sample
    ``offset`` and holds what ``crop_for_frames`` would cut for them (or more)."""
    values = {}
    librosa_names = [b for b in blocks if BLOCKS[b].source == "librosa"]
    if librosa_names:
        start, stop = _crop_bounds(frames, offset + audio.size)
        with warnings.catch_warnings():
            # A piece of a long file (a few frames + CONTEXT_SAMPLES) can be shorter than
            # the CQT's lowest-octave window (2.97 s, see MIN_CQT_SECONDS), so librosa warns;
            # the context covers the half window each frame needs, and files too short for
            # the CQT are refused before (``_check_min_length``).
            warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large")
            values.update(librosa_blocks(audio[start - offset:stop - offset], start,
                                         librosa_names, frames))
    if "compare" in blocks:
        if offset and compare_mode == "one_pass":
            raise ValueError("ComParE one_pass needs the audio from the clip start")
        first = int(frames.min()) if offset else 0  # per_segment: each frame's own samples
        shift = first * FRAME_SAMPLES - offset
        values["compare"] = compare_frames(audio[shift:], frames - first, compare_mode)
    if "deam_lld" in blocks:
        if offset:
            raise ValueError("openSMILE LLD blocks need the audio from the clip start")
        from mer.features.deam_features import deam_frames
        values["deam_lld"] = deam_frames(audio, frames)
    return values


def _crop_bounds(frames: np.ndarray, n_samples: int) -> tuple[int, int]:
    start = int(frames.min()) * FRAME_SAMPLES - CONTEXT_SAMPLES
    start = max(0, start // HOP_LENGTH * HOP_LENGTH)
    stop = min(n_samples, (int(frames.max()) + 1) * FRAME_SAMPLES + CONTEXT_SAMPLES)
    return start, stop


def crop_for_frames(audio: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, int]:
    """The audio the librosa blocks of ``frames`` need, and the clip sample it starts at.

    ``CONTEXT_SAMPLES`` of margin each side (clipped to the clip); the start is a multiple
    of the hop so the cropped hops are the whole clip's hops.
    """
    start, stop = _crop_bounds(frames, audio.size)
    return audio[start:stop], start
