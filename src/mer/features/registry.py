"""Feature blocks and feature sets, registered by name in one place.

A *block* is one librosa or openSMILE descriptor (``mfcc``: 20 values per frame); a
*set* is a named list of blocks whose values are concatenated in that order. Adding a
set is one entry in ``FEATURE_SETS``; adding a block is one entry in ``BLOCKS`` plus its
function in ``mer.features.spectra`` (or ``compare``).

``compare`` has 6373 dimensions: the openSMILE ComParE_2016 functionals. The paper
reports 6670 for "ComParE"; no openSMILE release we know of gives that count for this set,
so the difference is recorded here and in the paper notes rather than padded away.

``deam260`` (read from DEAM's ``features/<id>.csv``) and ``deam_features`` (the same 260
columns computed from audio, ``mer.features.deam_features``) share their column names;
``deam260`` names ``deam_features`` as its ``computed_by`` set, so a model trained on the
shipped files can be exported and applied to any song.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mer.errors import ConfigError


@dataclass(frozen=True)
class Block:
    """One descriptor: ``dims`` values per 500 ms frame; ``source`` says who computes it."""

    name: str
    dims: int
    source: str  # "librosa", "opensmile", "opensmile_lld" (DEAM's 260 from audio), or
    # "deam_csv" (read from DEAM's feature files)
    description: str


@dataclass(frozen=True)
class FeatureSet:
    """A named concatenation of blocks, as named in ``params.yaml``."""

    name: str
    blocks: tuple[str, ...]
    dims: int
    description: str
    computed_by: str | None = None  # a set computed from audio with the same columns

    @property
    def precomputed(self) -> bool:
        """Read from files a dataset ships (DEAM's features) rather than computed from audio."""
        return any(BLOCKS[block].source == "deam_csv" for block in self.blocks)

    @property
    def columns(self) -> list[str]:
        """One name per dimension, block by block (``mfcc_03``, ``mel_127``, openSMILE's)."""
        return [column for block in self.blocks for column in block_columns(block)]


def _blocks(*blocks: Block) -> dict[str, Block]:
    return {block.name: block for block in blocks}


BLOCKS: dict[str, Block] = _blocks(
    Block("chroma_stft", 12, "librosa", "chromagram of the power STFT, tuning fixed at A440"),
    Block("chroma_cqt", 12, "librosa", "chromagram of the CQT below"),
    Block("cens", 12, "librosa", "chroma energy normalised statistics of the CQT below"),
    Block("mfcc", 20, "librosa", "MFCCs of the log mel spectrogram (no top_db clipping)"),
    Block("rms", 1, "librosa", "root-mean-square of each 2048-sample window"),
    Block("mel", 128, "librosa", "mel power spectrogram (librosa default: power, not dB)"),
    Block("centroid", 1, "librosa", "spectral centroid (Hz)"),
    Block("bandwidth", 1, "librosa", "spectral bandwidth (Hz)"),
    Block("contrast", 7, "librosa", "spectral contrast, 6 bands from 200 Hz + valley row"),
    Block("flatness", 1, "librosa", "spectral flatness"),
    Block("rolloff", 1, "librosa", "85 % spectral roll-off frequency (Hz)"),
    Block("zcr", 1, "librosa", "zero-crossing rate of each 2048-sample window"),
    Block("cqt", 252, "librosa",
          "CQT magnitude (linear), 7 octaves x 36 bins from C1 = 32.70 Hz, tuning A440"),
    Block("compare", 6373, "opensmile", "openSMILE ComParE_2016 functionals"),
    Block("deam260", 260, "deam_csv",
          "DEAM's own openSMILE features at 2 Hz (features/<id>.csv, 260 columns)"),
    Block("deam_lld", 260, "opensmile_lld",
          "DEAM's 260 columns from audio: mean and std of the 65 ComParE_2016 LLDs and their "
          "deltas per 500 ms frame"),
)


def _feature_sets(*sets: tuple) -> dict[str, FeatureSet]:
    return {name: FeatureSet(name, blocks, sum(BLOCKS[b].dims for b in blocks), description, *extra)
            for name, blocks, description, *extra in sets}


FEATURE_SETS: dict[str, FeatureSet] = _feature_sets(
    ("compare", ("compare",),
     "openSMILE ComParE_2016 functionals per 500 ms frame (paper: 6670 dims, here 6373)"),
    ("chroma", ("chroma_stft", "chroma_cqt"), "chroma of the STFT and of the CQT"),
    ("cqt", ("cqt",), "constant-Q transform magnitudes"),
    ("chroma_cqt", ("chroma_stft", "chroma_cqt", "cqt"), "the chroma and cqt sets together"),
    ("spectral", ("chroma_stft", "chroma_cqt", "cens", "mfcc", "rms", "mel", "centroid",
                  "bandwidth", "contrast", "flatness", "rolloff", "zcr"),
     "the paper's 197-dim librosa set"),
    ("deam260", ("deam260",),
     "DEAM only: the 260 openSMILE features the dataset ships, one row per 500 ms",
     "deam_features"),
    ("deam_features", ("deam_lld",),
     "DEAM's 260 openSMILE columns (deam260) computed from any audio"),
)


def feature_set(name: str) -> FeatureSet:
    """The registered set ``name``; ``ConfigError`` listing the valid names otherwise."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ConfigError(f"unknown feature set {name!r}; valid names: "
                          f"{', '.join(sorted(FEATURE_SETS))}") from None


@cache
def block_columns(name: str) -> tuple[str, ...]:
    """Column names of one block: ``rms``; ``mfcc_00`` ... ``mfcc_19``; openSMILE's names."""
    block = BLOCKS[name]
    if block.source in ("deam_csv", "opensmile_lld"):  # DEAM's names, both ways
        from mer.features.deam_features import deam_feature_names
        return deam_feature_names()
    if block.source == "opensmile":
        from mer.features.compare import compare_feature_names
        return tuple(compare_feature_names())
    if block.dims == 1:
        return (name,)
    width = max(2, len(str(block.dims - 1)))
    return tuple(f"{name}_{i:0{width}d}" for i in range(block.dims))
