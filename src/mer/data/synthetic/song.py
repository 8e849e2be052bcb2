"""One synthetic song: its emotion, its audio and its songs_info.csv row."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mer.data.synthetic.emotion import EmotionModel, SongEmotion, draw_song_emotion, song_rngs
from mer.data.synthetic.music import render_song

_ARTISTS = ("Kevin Synthetic", "The Seeded Quartet", "Ada Wavetable", "Numpy Brothers",
            "The Random Walkers", "Lena Oscillator", "Markov & Chain", "Orchestra Gaussiana",
            "Fourier Folk Band", "The Autoregressives")
_TITLE_WORDS = (("Quiet", "Bright", "Lonely", "Electric", "Slow", "Golden", "Restless",
                 "Blue", "Broken", "Sunny"),
                ("River", "Morning", "Groove", "Century", "Waltz", "Storm", "Lullaby",
                 "Highway", "Garden", "Dance"))


@dataclass(frozen=True)
class SyntheticSong:
    """One synthesised song: mono float32 audio at ``SAMPLE_RATE``, its emotion and the
    RMS level (dBFS) it was mastered at, drawn independently of the emotion."""

    audio: np.ndarray
    emotion: SongEmotion
    loudness_dbfs: float
    info: dict[str, str] = field(default_factory=dict)  # artist, title, genre, segment


def song_info(genre: str, rng: np.random.Generator) -> dict[str, str]:
    """A songs_info.csv row: artist, title, segment start / end (min.sec) and genre."""
    start = int(rng.integers(0, 150))
    end = start + 45

    def min_sec(seconds: int) -> str:  # emoMusic writes 0:48 as 0.48 and 0:20 as 0.2
        return f"{float(f'{seconds // 60}.{seconds % 60:02d}'):g}"

    return {"artist": str(rng.choice(_ARTISTS)),
            "title": f"{rng.choice(_TITLE_WORDS[0])} {rng.choice(_TITLE_WORDS[1])}",
            "start": min_sec(start), "end": min_sec(end), "genre": genre}


def synthesize_song(song_id: int, *, seed: int = 2020, within_song_std: float = 0.03,
                    model: EmotionModel = EmotionModel()) -> SyntheticSong:
    """One song's audio (float32, mono, ``SAMPLE_RATE``), latent curves and annotations.

    Pure: depends only on the arguments.
    """
    emotion = draw_song_emotion(song_id, seed=seed, within_song_std=within_song_std, model=model)
    _, audio_rng, info_rng = song_rngs(seed, song_id)
    audio, loudness = render_song(emotion, audio_rng)
    return SyntheticSong(audio=audio, emotion=emotion, loudness_dbfs=loudness,
                         info=song_info(emotion.style.genre, info_rng))
