"""openSMILE ComParE_2016 functionals per 500 ms frame, in two modes.

* ``per_segment`` (default, the paper's description): the 22,050 samples of each frame
  are sent to openSMILE on their own; the functionals summarise LLDs computed only from
  that segment.
* ``one_pass``: one openSMILE call over the clip with the functionals in fixed 500 ms
  frames (``frameMode = fixed``), aligned with the frame grid. Faster, but most values
  differ from ``per_segment``: LLD windows (up to 60 ms) and delta/smoothing filters near a
  frame edge see the neighbouring frame's audio instead of the segment's edge, and the
  RASTA-filtered auditory spectrum is a recursive (IIR) filter whose state carries over
  from everything before the frame. The call therefore always starts at the clip start
  (so a frame's values do not depend on which frames were requested) and stops one frame
  after the last requested frame (later audio does not change them). The audio is padded
  with 0.5 s of zeros because openSMILE drops the last frame otherwise; a frame's values
  do not depend on how much padding follows.

ComParE_2016 gives 6373 functionals; the paper reports 6670 (see ``registry``).
"""

from __future__ import annotations

import hashlib
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from mer.errors import ConfigError
from mer.frames import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from mer.io import write_text_atomic

COMPARE_MODES = ("per_segment", "one_pass")

_FIXED_FRAMES_CONF = f"""\
;; mer: ComParE functionals over fixed, non-overlapping {FRAME_SECONDS} s frames
frameMode = fixed
frameSize = {FRAME_SECONDS}
frameStep = {FRAME_SECONDS}
frameCenterSpecial = left
"""


def check_compare_mode(mode: str) -> None:
    if mode not in COMPARE_MODES:
        raise ConfigError(f"unknown compare_mode {mode!r}; valid: {', '.join(COMPARE_MODES)}")


@cache
def _smile(mode: str):
    import opensmile
    options = {}
    if mode == "one_pass":
        options["frameModeFunctionalsConf"] = str(_fixed_frames_conf())
    return opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                           opensmile.FeatureLevel.Functionals, options=options)


def _fixed_frames_conf() -> Path:
    """The frame-mode include file, written once per content into the temp directory."""
    digest = hashlib.sha1(_FIXED_FRAMES_CONF.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"mer_compare_frames_{digest}.conf.inc"
    if not path.exists():  # atomic: parallel jobs never read a half-written file
        write_text_atomic(_FIXED_FRAMES_CONF, path)
    return path


def compare_feature_names() -> list[str]:
    return list(_smile("per_segment").feature_names)


def compare_frames(audio: np.ndarray, frames: np.ndarray, mode: str) -> np.ndarray:
    """ComParE functionals of whole-clip ``frames`` of ``audio`` -> (len(frames), 6373)."""
    check_compare_mode(mode)
    if mode == "per_segment":
        return _per_segment(audio, frames)
    return _one_pass(audio, frames)


def _per_segment(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    # One Smile object for every segment, called directly (``smile(signal, sr)``: the same
    # extraction as ``process_signal``, without building a pandas frame per segment).
    # openSMILE itself re-initialises its whole ComParE graph for every call (~20 of ~30 ms
    # per segment, much of it naming the 6373 outputs); ``OpenSMILE.reset()`` between
    # segments is no cheaper and does not reproduce the values, so that cost stays and
    # the speed-up over the naive reference comes from computing only the frames asked
    # for (61 of 90). See benchmarks/README.md.
    smile = _smile("per_segment")
    out = np.empty((len(frames), _n_features()), dtype=np.float32)
    for row, k in enumerate(frames):
        out[row] = smile(audio[k * FRAME_SAMPLES:(k + 1) * FRAME_SAMPLES], SAMPLE_RATE)[0, :, 0]
    return out


@cache
def _n_features() -> int:
    return len(compare_feature_names())


def _one_pass(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    # Always from the clip start: RASTA filtering is recursive, so a later start would
    # change the values. LLDs look at most one frame ahead, so the end can be cropped.
    stop = min(audio.size, (int(frames.max()) + 2) * FRAME_SAMPLES)
    padded = np.concatenate([audio[:stop], np.zeros(FRAME_SAMPLES, dtype=np.float32)])
    table = _smile("one_pass").process_signal(padded, SAMPLE_RATE)
    starts = table.index.get_level_values("start").total_seconds().to_numpy()
    frame_of_row = np.round(starts / FRAME_SECONDS).astype(int)
    row_of_frame = {int(k): row for row, k in enumerate(frame_of_row)}
    values = table.to_numpy()
    return np.asarray([values[row_of_frame[int(k)]] for k in frames], dtype=np.float32)
