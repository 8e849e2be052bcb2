"""librosa blocks: computed on hops, then pooled into 500 ms frames.

Conventions
-----------
* Hops: ``HOP_LENGTH`` = 512 samples (11.6 ms), windows of ``N_FFT`` = 2048 samples,
  ``center=True``: hop ``i`` of a signal that starts at sample ``offset`` of the clip is
  centred on clip sample ``offset + 512 i``. 512 is a power of two, which the multi-rate
  CQT needs (it halves the hop once per octave); 22,050 is not a multiple of any such hop,
  so frames hold 43 or 44 hops.
* Pooling: whole-clip frame ``k`` is the **mean of the hops whose centres fall inside**
  ``[0.5 k, 0.5 k + 0.5)`` s, i.e. clip samples ``[22050 k, 22050 (k + 1))``.
* One STFT (magnitude and power) and one CQT per call, shared by every block that needs
  them; each block is computed at most once.
* CQT: 252 bins = 7 octaves x 36 bins per octave from C1 (32.70 Hz) to 4.1 kHz; linear
  magnitude, as the paper says ("CQT magnitudes"; every feature is standardised later);
  tuning fixed at A440, so bin 135 is A4 = 440 Hz.
  The same CQT feeds chroma_cqt and CENS, whose librosa defaults are these parameters.
* Tuning is fixed (not estimated) and dB conversion has no ``top_db`` clipping, so no
  value depends on audio far from its frame: a clip cropped with ``CONTEXT_SAMPLES`` of
  margin gives the same frames as the whole clip (up to float rounding in the CQT's
  resampling).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from mer.frames import FRAME_SAMPLES, SAMPLE_RATE
from mer.runtime import import_librosa

N_FFT = 2048
HOP_LENGTH = 512
CQT_FMIN_HZ = 32.70319566257483  # C1 = librosa.note_to_hz("C1")
CQT_BINS_PER_OCTAVE = 36
CQT_N_BINS = 252
N_MFCC = 20
N_MELS = 128
# Audio kept either side of the requested frames: the longest CQT filter (C1, 36 bins per
# octave) spans ~1.6 s and CENS smooths over 41 hops (~0.5 s); 2 s covers half of each.
CONTEXT_SAMPLES = 2 * SAMPLE_RATE


class Spectra:
    """Lazily computed spectra of ``audio``, which starts at clip sample ``offset``."""

    def __init__(self, audio: np.ndarray, offset: int = 0):
        if offset % HOP_LENGTH:
            raise ValueError(f"offset {offset} is not a multiple of the hop {HOP_LENGTH}")
        self.audio = audio
        self.offset = offset

    @cached_property
    def magnitude(self) -> np.ndarray:
        librosa = import_librosa()
        return np.abs(librosa.stft(self.audio, n_fft=N_FFT, hop_length=HOP_LENGTH,
                                   center=True))

    @cached_property
    def power(self) -> np.ndarray:
        return self.magnitude ** 2

    @cached_property
    def cqt(self) -> np.ndarray:
        librosa = import_librosa()
        return np.abs(librosa.cqt(self.audio, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                  fmin=CQT_FMIN_HZ, n_bins=CQT_N_BINS,
                                  bins_per_octave=CQT_BINS_PER_OCTAVE, tuning=0.0))

    @cached_property
    def centroid(self) -> np.ndarray:
        librosa = import_librosa()
        return librosa.feature.spectral_centroid(S=self.magnitude, sr=SAMPLE_RATE, n_fft=N_FFT)

    @cached_property
    def mel(self) -> np.ndarray:
        librosa = import_librosa()
        return librosa.feature.melspectrogram(S=self.power, sr=SAMPLE_RATE, n_fft=N_FFT,
                                              n_mels=N_MELS)


def _chroma_stft(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    return librosa.feature.chroma_stft(S=s.power, sr=SAMPLE_RATE, n_fft=N_FFT, tuning=0.0)


def _cqt_chroma_kwargs() -> dict:
    return dict(sr=SAMPLE_RATE, hop_length=HOP_LENGTH, fmin=CQT_FMIN_HZ,
                bins_per_octave=CQT_BINS_PER_OCTAVE, n_octaves=CQT_N_BINS // CQT_BINS_PER_OCTAVE)


def _chroma_cqt(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    return librosa.feature.chroma_cqt(C=s.cqt, **_cqt_chroma_kwargs())


def _cens(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    return librosa.feature.chroma_cens(C=s.cqt, **_cqt_chroma_kwargs())


def _mfcc(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    # top_db=None: librosa's default clips at 80 dB below the loudest hop of the whole
    # input, which would make a frame depend on where the clip was cropped.
    return librosa.feature.mfcc(S=librosa.power_to_db(s.mel, top_db=None), n_mfcc=N_MFCC)


def _rms(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    return librosa.feature.rms(y=s.audio, frame_length=N_FFT, hop_length=HOP_LENGTH,
                               center=True)


def _zcr(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    return librosa.feature.zero_crossing_rate(s.audio, frame_length=N_FFT,
                                              hop_length=HOP_LENGTH, center=True)


def _spectral(function_name: str, **kwargs):
    def compute(s: Spectra) -> np.ndarray:
        librosa = import_librosa()
        function = getattr(librosa.feature, function_name)
        return function(S=s.magnitude, sr=SAMPLE_RATE, n_fft=N_FFT, **kwargs)
    return compute


def _bandwidth(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    # the centroid librosa would compute again from the same arguments (once, not twice)
    return librosa.feature.spectral_bandwidth(S=s.magnitude, sr=SAMPLE_RATE, n_fft=N_FFT,
                                              centroid=s.centroid)


def _flatness(s: Spectra) -> np.ndarray:
    librosa = import_librosa()
    return librosa.feature.spectral_flatness(S=s.magnitude)


BLOCK_FUNCTIONS = {
    "chroma_stft": _chroma_stft,
    "chroma_cqt": _chroma_cqt,
    "cens": _cens,
    "mfcc": _mfcc,
    "rms": _rms,
    "mel": lambda s: s.mel,
    "centroid": lambda s: s.centroid,
    "bandwidth": _bandwidth,
    "contrast": _spectral("spectral_contrast"),
    "flatness": _flatness,
    "rolloff": _spectral("spectral_rolloff"),
    "zcr": _zcr,
    "cqt": lambda s: s.cqt,
}


def hop_range(frame: int, offset: int = 0) -> tuple[int, int]:
    """Hops ``[lo, hi)`` (of a signal starting at clip sample ``offset``) whose centres
    fall inside whole-clip frame ``frame``."""
    start, end = frame * FRAME_SAMPLES - offset, (frame + 1) * FRAME_SAMPLES - offset
    return -(-start // HOP_LENGTH), -(-end // HOP_LENGTH)


def pool_frames(hop_values: np.ndarray, frames: np.ndarray, offset: int = 0) -> np.ndarray:
    """(dims, n_hops) hop values -> (len(frames), dims): mean of each frame's hops."""
    pooled = np.empty((len(frames), hop_values.shape[0]), dtype=np.float32)
    for row, frame in enumerate(frames):
        lo, hi = hop_range(int(frame), offset)
        if lo < 0 or hi > hop_values.shape[1] or hi <= lo:
            raise ValueError(f"frame {frame} is not covered by hops of this signal")
        pooled[row] = hop_values[:, lo:hi].mean(axis=1)
    return pooled


def librosa_blocks(audio: np.ndarray, offset: int, blocks: list[str],
                   frames: np.ndarray) -> dict[str, np.ndarray]:
    """Each librosa block in ``blocks`` -> (len(frames), dims) float32, sharing spectra."""
    spectra = Spectra(audio, offset)
    return {name: pool_frames(BLOCK_FUNCTIONS[name](spectra), frames, offset)
            for name in blocks}
