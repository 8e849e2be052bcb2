"""Styles: how strongly each musical cue carries a song's emotion.

A listener hears arousal in several cues at once -- tempo, note density, percussion,
brightness and within-song dynamics -- and valence in register and consonance (and in the
harmony, see ``mer.data.synthetic.emotion``). How much each cue carries differs between
genres: a dance track keeps its tempo whatever its mood, a string piece has no drums. Each
song therefore draws one of eight styles (one per emoMusic genre), and from it its own
*cue weights* ``w`` in [0, 1] and *cue offsets* ``r`` in (-1, 1)::

    cue_c(t) = w_c * u(t) + (1 - w_c) * r_c        u = tanh(d / DRIVE_SCALE)

``d`` is the song's latent emotion (arousal for the arousal cues, valence for the valence
cues), ``r_c`` the part of the cue that has nothing to do with emotion (a fast calm song,
a bright sad one). So no cue's song mean follows emotion closely, a model that combines
cues does better than any one cue, and one that also recognises the style (timbre, drums,
tempo range) can learn which cues to trust in which song.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AROUSAL_CUES = ("tempo", "density", "percussion", "brightness", "dynamics")
VALENCE_CUES = ("register", "consonance")
CUE_WEIGHT_JITTER = 0.15  # std of a song's weights around its style's
CUE_OFFSET_STD = 0.5  # r_c = tanh(N(0, CUE_OFFSET_STD)): std ~0.4 (u: ~0.55 between songs)


@dataclass(frozen=True)
class Style:
    """A genre's cue weights and sound (see the module docstring)."""

    genre: str
    arousal_weights: tuple[float, float, float, float, float]  # in AROUSAL_CUES order
    valence_weights: tuple[float, float]  # in VALENCE_CUES order
    tempo_bpm: float  # centre tempo; the tempo cue moves it by +- TEMPO_SPAN_BPM
    drums: float  # kit level, 0 (none) .. 1
    timbre: float  # wavetable brightness offset of the instruments, -0.3 .. 0.3
    mode_bias: float  # log-odds of a major key at neutral valence


STYLES: tuple[Style, ...] = (
    Style("Blues", (0.76, 0.70, 0.58, 0.46, 0.70), (0.4, 0.6), 92, 0.6, -0.1, -0.4),
    Style("Classical", (0.76, 0.82, 0.40, 0.58, 0.88), (0.7, 0.5), 96, 0.0, -0.2, 0.0),
    Style("Country", (0.82, 0.64, 0.64, 0.40, 0.58), (0.3, 0.3), 108, 0.6, 0.1, 0.6),
    Style("Electronic", (0.46, 0.64, 0.88, 0.70, 0.52), (0.5, 0.4), 124, 1.0, 0.3, -0.2),
    Style("Folk", (0.70, 0.76, 0.46, 0.52, 0.70), (0.5, 0.5), 100, 0.2, -0.1, 0.3),
    Style("Jazz", (0.64, 0.88, 0.64, 0.46, 0.64), (0.3, 0.8), 112, 0.5, 0.0, 0.0),
    Style("Pop", (0.64, 0.64, 0.76, 0.64, 0.58), (0.6, 0.3), 110, 0.8, 0.2, 0.5),
    Style("Rock", (0.58, 0.70, 0.82, 0.58, 0.64), (0.4, 0.4), 116, 0.9, 0.2, 0.2),
)
GENRES = tuple(style.genre for style in STYLES)


@dataclass(frozen=True)
class SongStyle:
    """One song's style and its own cue weights and offsets (cue name -> value)."""

    style: Style
    weights: dict[str, float]
    offsets: dict[str, float]

    @property
    def genre(self) -> str:
        return self.style.genre

    def cue(self, name: str, u: np.ndarray) -> np.ndarray:
        """``w * u + (1 - w) * r`` for cue ``name`` and normalised emotion ``u``."""
        w = self.weights[name]
        return w * np.asarray(u) + (1 - w) * self.offsets[name]


def draw_style(rng: np.random.Generator) -> SongStyle:
    """A style drawn uniformly, its weights jittered and its offsets drawn for one song."""
    style = STYLES[int(rng.integers(len(STYLES)))]
    names = AROUSAL_CUES + VALENCE_CUES
    base = np.array(style.arousal_weights + style.valence_weights)
    weights = np.clip(base + CUE_WEIGHT_JITTER * rng.standard_normal(len(names)), 0.0, 1.0)
    offsets = np.tanh(CUE_OFFSET_STD * rng.standard_normal(len(names)))
    return SongStyle(style=style,
                     weights={n: float(w) for n, w in zip(names, weights)},
                     offsets={n: float(r) for n, r in zip(names, offsets)})
