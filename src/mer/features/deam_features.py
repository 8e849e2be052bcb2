"""DEAM's 260 frame features (``features/<id>.csv``) computed from any audio with openSMILE.

What DEAM ships (``features.zip``; its manual and the MediaEval 2015 overview say only that
the features are openSMILE's, "the same as the ComParE baseline", 65 low-level
descriptors and their first-order deltas summarised by mean and standard deviation over
non-overlapping 500 ms windows, one row per window stamped with ``frameTime``): a
``;``-separated table, ``frameTime`` = 0, 0.5, 1.0, ... s and 260 columns.

What this module computes, and the choices behind it:

* **LLDs**: openSMILE's ``ComParE_2016`` low-level descriptors
  (``FeatureLevel.LowLevelDescriptors``, 65) and their deltas
  (``LowLevelDescriptors_Deltas``, 65), 10 ms hop, over the audio from the clip start
  (RASTA filtering is recursive, so a later start would change the values).
* **Windows**: whole-clip frame ``k`` (``mer.frames``: ``[0.5 k, 0.5 k + 0.5)`` s) pools
  the LLD rows ``50 k .. 50 k + 49``, i.e. the 10 ms LLD frames that *start* inside it, as
  openSMILE's own ``frameMode = fixed`` functionals do. DEAM's ``frameTime`` is the
  window's start (its first row is 0), so DEAM row ``frameTime = 0.5 k`` is this frame
  ``k``: the pairing ``mer.data.deam.read_frame_features`` uses for ``deam260``.
* **Statistics**: arithmetic mean (``amean``) and the population standard deviation
  (``stddev``, openSMILE's: divided by n) of each LLD over the window's rows.
* **Names and order**: DEAM's, ``<lld>_<stat>``: for each of the 65 LLDs in openSMILE's
  order ``_stddev`` then ``_amean``, then the same for the 65 deltas (``..._sma_de...``).
  DEAM's features come from an older openSMILE (ComParE 2013), whose MFCCs are named
  ``pcm_fftMag_mfcc_sma[i]`` where ComParE_2016 says ``mfcc_sma[i]``; the DEAM name is
  used. The order and names were read from public code that slices DEAM's files from
  ``F0final_sma_stddev`` to ``pcm_fftMag_mfcc_sma_de[14]_amean`` and lists their columns
  with ``_stddev`` before ``_amean`` per descriptor; they are not checked against the
  real file here (the test data is generated). ``mer.data.deam.read_frame_features``
  reorders a shipped file's columns to this order when its names are these.

The values will not equal DEAM's exactly: ComParE_2016 fixed details of the 2013 set
and DEAM's decoder and resampling are unknown. Only the columns' meaning and names are
reproduced, so a model trained on DEAM's shipped ``deam260`` can be applied to any song.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from mer.errors import AudioError
from mer.frames import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE

LLD_HOP_S = 0.01  # openSMILE ComParE LLD frame step
ROWS_PER_FRAME = int(round(FRAME_SECONDS / LLD_HOP_S))  # 50 LLD rows per 500 ms
STATISTICS = ("stddev", "amean")  # DEAM's order within each descriptor
CONTEXT_S = 0.5  # audio kept after the last frame: LLD windows (<= 60 ms) and delta filters


@cache
def _smile(level: str):
    import opensmile
    return opensmile.Smile(opensmile.FeatureSet.ComParE_2016, getattr(opensmile.FeatureLevel, level))


def deam_lld_name(opensmile_name: str) -> str:
    """DEAM's name for a ComParE_2016 LLD (``mfcc_sma[1]`` -> ``pcm_fftMag_mfcc_sma[1]``)."""
    return "pcm_fftMag_" + opensmile_name if opensmile_name.startswith("mfcc_sma") else opensmile_name


@cache
def deam_feature_names() -> tuple[str, ...]:
    """The 260 column names, in DEAM's order (see the module docstring)."""
    names = []
    for level in ("LowLevelDescriptors", "LowLevelDescriptors_Deltas"):
        for lld in _smile(level).feature_names:
            names += [f"{deam_lld_name(lld)}_{stat}" for stat in STATISTICS]
    return tuple(names)


def _lld_rows(audio: np.ndarray) -> np.ndarray:
    """(rows, 130) LLDs then deltas, row ``i`` the 10 ms LLD frame starting at ``0.01 i`` s.

    The two openSMILE levels can end a few rows apart; both are cut to the shorter.
    """
    parts = [_smile(level)(audio, SAMPLE_RATE)[0].T
             for level in ("LowLevelDescriptors", "LowLevelDescriptors_Deltas")]
    rows = min(p.shape[0] for p in parts)
    return np.concatenate([p[:rows] for p in parts], axis=1)


def deam_frames(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """DEAM's 260 features of whole-clip ``frames`` of ``audio`` -> (len(frames), 260) float32.

    openSMILE runs from the clip start to ``CONTEXT_S`` after the last requested frame, so
    a frame's values do not depend on which other frames were asked for (tested).
    """
    frames = np.asarray(frames, dtype=np.int64)
    stop = min(audio.size, (int(frames.max()) + 1) * FRAME_SAMPLES + int(CONTEXT_S * SAMPLE_RATE))
    lld = _lld_rows(np.ascontiguousarray(audio[:stop], dtype=np.float32))
    n_lld = lld.shape[1]
    out = np.empty((len(frames), 2 * n_lld), dtype=np.float32)
    for row, k in enumerate(frames):
        window = lld[k * ROWS_PER_FRAME:(k + 1) * ROWS_PER_FRAME]
        if window.shape[0] == 0:
            raise AudioError(f"frame {int(k)} ({k * FRAME_SECONDS:.1f} s) has no openSMILE "
                             f"frame; the audio is {audio.size / SAMPLE_RATE:.2f} s long")
        stats = np.stack([window.std(axis=0), window.mean(axis=0)], axis=1)  # (130, 2)
        out[row] = stats.reshape(-1)  # per descriptor: stddev, amean
    return out
