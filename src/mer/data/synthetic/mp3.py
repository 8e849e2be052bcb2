"""Writing the built-in clips as MP3: libsndfile's encoding, through a faster LAME build.

``write_mp3(path, audio, sample_rate)`` writes what ``soundfile.write(path, audio,
sample_rate, format="MP3")`` writes: LAME 3.100's VBR (its default quality, V4) from
normalised float samples, preceded by the Xing/LAME Info frame that holds the frame count,
the seek table and the encoder delay and padding (so decoders trim the clip to its exact
length, and ``mer.audio`` can tell a truncated file from its header). Decoded, the two
files are the same samples, bit for bit (``tests/test_synthetic_mp3.py``).

Why not ``soundfile.write``: the LAME inside soundfile's bundled libsndfile is a slow
build, 0.84 CPU-s for a 45 s mono clip, most of the 744-song dataset's generation time.
The LAME bundled with the ``lameenc`` wheel encodes the same clip in 0.23 CPU-s, but
lameenc's Python API takes only 16-bit samples (a different, requantised signal) and
drops the Info frame. Its library exports LAME's whole C API, so this module calls it with
ctypes the way libsndfile's ``mpeg_l3_encode.c`` does: the same settings (VBR default,
no ID3 tag), ``lame_encode_buffer_ieee_float``, ``lame_encode_flush`` and the Info frame
from ``lame_get_lametag_frame`` written over LAME's placeholder.

The files are not byte-identical to libsndfile's: that LAME build calls itself "4.0", which
its Info frame and the last frames' padding spell out (and the frame's CRC covers). Where
lameenc or its symbols are missing, ``write_mp3`` falls back to ``soundfile.write``, whose
decoded samples are the same.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

VBR_DEFAULT = 4  # lame.h: vbr_default (= vbr_mtrh), what libsndfile selects for .mp3 files
FLUSH_BUFFER_BYTES = 7200  # lame.h: the most lame_encode_flush can return


@functools.cache
def lame_library() -> ctypes.CDLL | None:
    """LAME's C API from the lameenc wheel, with argument types set; None where unavailable."""
    try:
        import lameenc
    except ImportError:
        return None
    try:
        lib = ctypes.CDLL(lameenc.__file__)
        lib.lame_init.restype = ctypes.c_void_p
        lib.lame_init.argtypes = []
        for name in ("lame_set_in_samplerate", "lame_set_out_samplerate", "lame_set_num_channels",
                     "lame_set_write_id3tag_automatic", "lame_set_VBR"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
        for name in ("lame_init_params", "lame_close"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        lib.lame_encode_buffer_ieee_float.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
            ctypes.c_int]
        lib.lame_encode_flush.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.lame_get_lametag_frame.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.lame_get_lametag_frame.restype = ctypes.c_size_t
    except (OSError, AttributeError):  # not a loadable library, or built without these symbols
        return None
    return lib


def encode_mp3(audio: np.ndarray, sample_rate: int) -> bytes | None:
    """The MP3 file's bytes for mono float samples in [-1, 1]; None without LAME's C API."""
    lib = lame_library()
    if lib is None:
        return None
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"write_mp3 takes mono samples (1-D), got shape {samples.shape}")
    encoder = lib.lame_init()
    if not encoder:
        raise MemoryError("lame_init failed")
    try:
        for setting, value in (("in_samplerate", sample_rate), ("out_samplerate", sample_rate),
                               ("num_channels", 1), ("write_id3tag_automatic", 0),
                               ("VBR", VBR_DEFAULT)):
            if getattr(lib, f"lame_set_{setting}")(encoder, int(value)) < 0:
                raise ValueError(f"LAME refused {setting} = {value}")
        if lib.lame_init_params(encoder) < 0:
            raise ValueError(f"LAME cannot encode mono audio at {sample_rate} Hz")
        # lame.h's worst case for the output of n samples: 1.25 n + 7200 bytes
        buffer = ctypes.create_string_buffer(int(1.25 * len(samples)) + FLUSH_BUFFER_BYTES)
        written = lib.lame_encode_buffer_ieee_float(encoder, samples.ctypes.data, None,
                                                    len(samples), buffer, len(buffer))
        if written < 0:
            raise RuntimeError(f"lame_encode_buffer_ieee_float failed ({written})")
        stream = bytearray(buffer.raw[:written])
        written = lib.lame_encode_flush(encoder, buffer, len(buffer))
        if written < 0:
            raise RuntimeError(f"lame_encode_flush failed ({written})")
        stream += buffer.raw[:written]
        # LAME began the stream with an empty Info frame of this size; fill it in.
        tag_size = lib.lame_get_lametag_frame(encoder, None, 0)
        tag = ctypes.create_string_buffer(max(tag_size, 1))
        if tag_size and lib.lame_get_lametag_frame(encoder, tag, tag_size) == tag_size:
            if stream[:4] != tag.raw[:4]:
                raise RuntimeError("LAME's stream does not start with its Info frame")
            stream[:tag_size] = tag.raw[:tag_size]
        return bytes(stream)
    finally:
        lib.lame_close(encoder)


def write_mp3(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono float ``audio`` to ``path`` as MP3 (module docstring: what and why)."""
    data = encode_mp3(audio, sample_rate)
    if data is None:
        import soundfile as sf

        sf.write(path, np.asarray(audio, dtype=np.float32), sample_rate, format="MP3")
        return
    Path(path).write_bytes(data)
