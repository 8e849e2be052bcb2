"""A synthetic stand-in for emoMusic: generated music whose emotion features can recover.

The real "1000 Songs" set cannot be downloaded everywhere, so the default pipeline runs on
a dataset generated here, deterministically from a seed, in exactly the emoMusic layout
(see ``mer.data.emomusic``): ``clips_45seconds/{song_id}.mp3`` plus the six annotation
CSVs, with the real files' headers and quirks (quoted, tab-padded ``songs_info.csv``;
static ratings on the 1-9 scale; continuous values on [-1, 1], 61 samples at 2 Hz).

Generative model (units: seconds, values on the dataset's [-1, 1] scale)
-----------------------------------------------------------------------
1. **Driving emotion.** Each song has a latent arousal and valence curve ``d(t)`` on a
   ``CONTROL_RATE`` = 10 Hz grid covering the whole clip::

       d(t) = level + m * s * w(t)

   ``level`` is drawn once per song from a bivariate normal (``EmotionModel.level_mean``,
   ``level_std``, correlation ``av_corr``); ``w`` is a unit-variance AR(1) process with time
   constant ``within_tau_s`` (innovations of A and V also correlated ``av_corr``); ``m`` is a
   per-song log-normal spread multiplier (mean 1, log-std ``within_spread_log_std``) so a few
   songs vary much more than most, as in the real set; ``s`` is set so that the *expected
   per-song standard deviation* of the noise-free annotation over its 61 samples equals
   ``within_song_std``.
2. **Raters.** The published annotation is ``d`` seen through listeners: delayed by
   ``rater_lag_s`` (1 s), smoothed by a causal exponential filter (``rater_smoothing_s``),
   plus a smooth AR(1) rater-average noise (``annotation_noise_std``), sampled at
   ``mer.frames.annotation_times()`` (15.0, 15.5, ..., 45.0 s) and clipped to [-1, 1].
   ``*_cont_std`` is a per-song rater spread (``rater_std_range``) with slow variation.
   Static ratings are the whole-clip mean of ``d`` mapped to 1-9 (``5 + 4 x``) plus rating
   noise, one decimal as a mean of ten raters, with a rater std in ``static_std_range``.
3. **Music.** The driving curves are normalised, ``u = tanh(d / DRIVE_SCALE)`` in (-1, 1),
   and applied *time-locally* (per 16th-note step, per beat, per bar, or as a smooth gain):

   * arousal -> tempo (``TEMPO_BPM`` +- ``TEMPO_SPAN_BPM``, integrated so the beat follows
     within-song changes), note density of melody / bass / chord re-strikes, loudness
     (``GAIN_DB`` +- ``GAIN_SPAN_DB``), percussion (kick / snare / hi-hat bursts of filtered
     noise, their level and density) and brightness (harmonic roll-off of the wavetables);
   * valence -> mode of each bar's chord and scale (major with probability
     ``sigmoid(MODE_SLOPE u_v + song bias)``), consonance (a dissonant tension tone --
     minor 2nd, tritone or minor 9th above the root -- whose level grows as valence falls,
     and chromatic melody neighbours) and register (melody and chord centre pitches).

   Voices (melody, bass, four chord voices) are monophonic phase-continuous wavetable
   oscillators with attack/decay/release envelopes; drums are one-shot templates. Output
   is mono ``SAMPLE_RATE`` float audio, soft-limited below 0.9 full scale, 45.06-45.09 s
   long, written as MP3 by libsndfile.

Determinism: a song's audio, latent curves and annotations derive only from
``(seed, song_id)`` (``numpy.random.SeedSequence([seed, song_id])``), so they do not depend
on ``n_songs`` or ``workers``; the choice of song ids and the Mediaeval 2013
development/evaluation split derive from ``seed`` and ``n_songs``.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt

from mer.data.emomusic import (
    ANNOTATIONS_DIR,
    CLIPS_DIR,
    CONTINUOUS_COLUMNS,
    SONGS_INFO,
    STATIC_ANNOTATIONS,
    TARGETS,
    continuous_file,
)
from mer.errors import ConfigError
from mer.frames import FRAME_SECONDS, SAMPLE_RATE, annotation_times
from mer.io import atomic_directory

CONTROL_RATE = 10  # Hz: the driving curves' grid
CLIP_SECONDS_RANGE = (45.06, 45.09)  # real emoMusic clip lengths
SONG_ID_RANGE = (2, 1000)  # real ids run 2..1000 with gaps (744 songs)
N_REAL_SONGS = 744
EVALUATION_SHARE = 125 / 744  # Mediaeval 2013: 619 development, 125 evaluation songs
GENRES = ("Blues", "Classical", "Country", "Electronic", "Folk", "Jazz", "Pop", "Rock")
STATIC_SCALE = (1.0, 9.0)  # static ratings: 5 + 4 x, x on [-1, 1]

# Emotion -> music mapping (u = tanh(d / DRIVE_SCALE) in (-1, 1)).
DRIVE_SCALE = 0.45  # song levels have std ~0.3, so u spans most of (-1, 1)
TEMPO_BPM, TEMPO_SPAN_BPM, TEMPO_JITTER_BPM = 104.0, 44.0, 6.0
GAIN_DB, GAIN_SPAN_DB = -7.0, 8.0
MODE_SLOPE = 5.0
MELODY_CENTRE_MIDI, MELODY_SPAN_SEMITONES = 70.0, 7.0
CHORD_CENTRE_MIDI, CHORD_SPAN_SEMITONES = 58.0, 5.0
OUTPUT_PEAK = 0.9  # soft-limiter ceiling, leaves headroom for MP3 overshoot

_WAVETABLE_SIZE = 4096  # a power of two: phases wrap with a bit mask
_N_BRIGHTNESS = 8
_BLOCK = 1 << 14  # samples per rendering block
_MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
# Chord progressions as (root in semitones above the tonic, quality) per bar.
_MAJOR_PROGRESSIONS = (((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
                       ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
                       ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
                       ((0, "maj"), (4, "min"), (5, "maj"), (7, "maj")))
_MINOR_PROGRESSIONS = (((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),
                       ((0, "min"), (5, "min"), (7, "min"), (0, "min")),
                       ((0, "min"), (8, "maj"), (5, "min"), (7, "maj")),
                       ((0, "min"), (10, "maj"), (8, "maj"), (10, "maj")))
_THIRD = {"maj": 4, "min": 3}
_TENSION_INTERVALS = np.array([1, 6, 13])  # minor 2nd, tritone, minor 9th above the root

_ARTISTS = ("Kevin Synthetic", "The Seeded Quartet", "Ada Wavetable", "Numpy Brothers",
            "The Random Walkers", "Lena Oscillator", "Markov & Chain", "Orchestra Gaussiana",
            "Fourier Folk Band", "The Autoregressives")
_TITLE_WORDS = (("Quiet", "Bright", "Lonely", "Electric", "Slow", "Golden", "Restless",
                 "Blue", "Broken", "Sunny"),
                ("River", "Morning", "Groove", "Century", "Waltz", "Storm", "Lullaby",
                 "Highway", "Garden", "Dance"))


@dataclass(frozen=True)
class EmotionModel:
    """Parameters of the latent emotion and rater model (defaults fit the real set).

    Targets measured on the 744 real songs: per-frame mean 0.03 (A) / 0.04 (V), std 0.30 /
    0.24, ~98 % of variance between songs, within-song std ~0.03, lag-1 autocorrelation of
    within-song deviations ~0.94, A-V correlation over frames ~0.57.
    """

    level_mean: tuple[float, float] = (0.03, 0.04)  # (arousal, valence)
    level_std: tuple[float, float] = (0.297, 0.237)
    av_corr: float = 0.57
    within_tau_s: float = 6.0  # AR(1) time constant of within-song variation
    within_spread_log_std: float = 0.5  # per-song multiplier of within-song variation
    rater_lag_s: float = 1.0
    rater_smoothing_s: float = 1.0
    annotation_noise_std: float = 0.004
    annotation_noise_tau_s: float = 1.5
    rater_std_range: tuple[float, float] = (0.12, 0.32)
    static_noise_std: float = 0.25  # on the 1-9 scale
    static_std_range: tuple[float, float] = (0.7, 2.2)


@dataclass(frozen=True)
class SongEmotion:
    """One song's latent emotion and its annotations (as written to the CSV files)."""

    song_id: int
    duration_s: float
    control_times: np.ndarray  # (n_control,) s, step 1 / CONTROL_RATE
    driving: dict[str, np.ndarray]  # target -> (n_control,) latent curve, [-1, 1] scale
    annotation: dict[str, np.ndarray]  # target -> (61,) rater average at annotation_times()
    annotation_std: dict[str, np.ndarray]  # target -> (61,) rater spread
    static_mean: dict[str, float]  # target -> 1..9
    static_std: dict[str, float]


@dataclass(frozen=True)
class SyntheticSong:
    """One synthesised song: mono float32 audio at ``SAMPLE_RATE`` and its emotion."""

    audio: np.ndarray
    emotion: SongEmotion
    info: dict[str, str] = field(default_factory=dict)  # artist, title, genre, segment


# ---------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------

def _check_arguments(n_songs, seed, within_song_std, workers) -> None:
    low, high = SONG_ID_RANGE
    if isinstance(n_songs, bool) or not isinstance(n_songs, (int, np.integer)):
        raise ConfigError(f"synthetic.n_songs must be an integer, got {n_songs!r}")
    if not 2 <= n_songs <= high - low + 1:
        raise ConfigError(f"synthetic.n_songs must be between 2 and {high - low + 1} "
                          f"(song ids {low}..{high}), got {n_songs}")
    _check_seed(seed)
    _check_within_song_std(within_song_std)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")


def _check_within_song_std(within_song_std) -> None:
    try:
        value = float(within_song_std)
    except (TypeError, ValueError):
        raise ConfigError(f"synthetic.within_song_std must be a number, "
                          f"got {within_song_std!r}") from None
    if not 0.0 <= value <= 0.5:
        raise ConfigError(f"synthetic.within_song_std must be in [0, 0.5] (the annotation "
                          f"scale is [-1, 1]), got {within_song_std!r}")


# ---------------------------------------------------------------------------------------
# Random streams
# ---------------------------------------------------------------------------------------

def _song_rngs(seed: int, song_id: int) -> tuple[np.random.Generator, ...]:
    """Independent streams for (emotion, audio, info): each depends on (seed, song_id) only."""
    children = np.random.SeedSequence([int(seed), int(song_id)]).spawn(3)
    return tuple(np.random.default_rng(child) for child in children)


def choose_song_ids(n_songs: int, seed: int = 2020) -> np.ndarray:
    """A seeded, sorted subset of the real id range 2..1000 (with gaps, as in emoMusic)."""
    _check_arguments(n_songs, seed, 0.0, 1)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))  # ids start at 2
    low, high = SONG_ID_RANGE
    return np.sort(rng.choice(np.arange(low, high + 1), size=n_songs, replace=False))


def _evaluation_split(song_ids: np.ndarray, seed: int) -> dict[int, str]:
    """Mediaeval 2013 set of each song, ~619:125 development:evaluation, at least one each."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    n_eval = min(max(1, int(round(len(song_ids) * EVALUATION_SHARE))), len(song_ids) - 1)
    evaluation = set(rng.choice(song_ids, size=n_eval, replace=False).tolist())
    return {int(s): "evaluation" if int(s) in evaluation else "development" for s in song_ids}


# ---------------------------------------------------------------------------------------
# Emotion: latent driving curves and annotations
# ---------------------------------------------------------------------------------------

def _ar1(rng: np.random.Generator, n: int, rho: float, n_series: int = 1,
         corr: float = 0.0) -> np.ndarray:
    """(n_series, n) stationary unit-variance AR(1) series; innovations correlated ``corr``."""
    cov = np.full((n_series, n_series), corr) + (1 - corr) * np.eye(n_series)
    innovations = np.linalg.cholesky(cov) @ rng.standard_normal((n_series, n))
    scale = np.sqrt(1 - rho**2)
    x0 = innovations[:, :1]  # start in the stationary distribution
    out = lfilter([scale], [1, -rho], innovations[:, 1:], axis=1, zi=rho * x0)[0]
    return np.concatenate([x0, out], axis=1)


def _rater_filter(x: np.ndarray, times: np.ndarray, model: EmotionModel) -> np.ndarray:
    """Delay by ``rater_lag_s``, smooth causally, sample at the annotation times."""
    dt = 1.0 / CONTROL_RATE
    alpha = np.exp(-dt / model.rater_smoothing_s) if model.rater_smoothing_s > 0 else 0.0
    smoothed = lfilter([1 - alpha], [1, -alpha], x, axis=-1, zi=alpha * x[..., :1])[0]
    return np.stack([np.interp(annotation_times() - model.rater_lag_s, times, row)
                     for row in np.atleast_2d(smoothed)])


@lru_cache(maxsize=32)
def _unit_within_std(model: EmotionModel) -> float:
    """Expected per-song std of the rater-filtered unit AR(1) over the 61 samples.

    Computed from the exact covariance of the filtered process (impulse response) and a
    fixed-seed Monte Carlo of the std of a Gaussian vector with that covariance.
    """
    dt = 1.0 / CONTROL_RATE
    rho = np.exp(-dt / model.within_tau_s)
    alpha = np.exp(-dt / model.rater_smoothing_s) if model.rater_smoothing_s > 0 else 0.0
    n = int(40 * max(model.within_tau_s, model.rater_smoothing_s, 1.0) * CONTROL_RATE)
    impulse = np.zeros(n)
    impulse[0] = np.sqrt(1 - rho**2)
    h = lfilter([1 - alpha], [1, -alpha], lfilter([1.0], [1, -rho], impulse))
    lags = np.arange(len(annotation_times())) * int(round(CONTROL_RATE * FRAME_SECONDS))
    acov = np.array([np.dot(h[: n - k], h[k:]) for k in lags])
    index = np.abs(np.subtract.outer(np.arange(len(lags)), np.arange(len(lags))))
    cov = acov[index]
    centre = np.eye(len(lags)) - 1.0 / len(lags)
    eig = np.clip(np.linalg.eigvalsh(centre @ cov @ centre), 0, None)
    z = np.random.default_rng(0).standard_normal((20_000, len(eig)))
    return float(np.mean(np.sqrt((z**2 @ eig) / len(eig))))


def draw_song_emotion(song_id: int, *, seed: int = 2020, within_song_std: float = 0.03,
                      model: EmotionModel = EmotionModel()) -> SongEmotion:
    """Latent driving curves and annotations of one song (cheap: no audio)."""
    _check_seed(seed)
    _check_within_song_std(within_song_std)
    rng = _song_rngs(seed, song_id)[0]
    duration = float(rng.uniform(*CLIP_SECONDS_RANGE))
    times = np.arange(int(np.ceil(duration * CONTROL_RATE)) + 1) / CONTROL_RATE
    mean = np.asarray(model.level_mean)
    sd = np.asarray(model.level_std)
    cov = np.outer(sd, sd) * np.array([[1, model.av_corr], [model.av_corr, 1]])
    level = mean + np.linalg.cholesky(cov) @ rng.standard_normal(2)
    spread = np.exp(model.within_spread_log_std * rng.standard_normal()
                    - model.within_spread_log_std**2 / 2)
    rho = np.exp(-1.0 / (CONTROL_RATE * model.within_tau_s))
    w = _ar1(rng, len(times), rho, n_series=2, corr=model.av_corr)
    scale = float(within_song_std) * spread / _unit_within_std(model)
    driving = np.clip(level[:, None] + scale * w, -1.0, 1.0)

    n_ann = len(annotation_times())
    noise_rho = np.exp(-FRAME_SECONDS / model.annotation_noise_tau_s)
    noise = model.annotation_noise_std * _ar1(rng, n_ann, noise_rho, n_series=2)
    annotation = np.clip(_rater_filter(driving, times, model) + noise, -1.0, 1.0)

    rater_std = rng.uniform(*model.rater_std_range, size=(2, 1))
    wobble = _ar1(rng, n_ann, np.exp(-FRAME_SECONDS / 4.0), n_series=2)  # 4 s drift
    annotation_std = np.clip(rater_std * (1 + 0.12 * wobble), 0.02, 0.6)

    low, high = STATIC_SCALE
    centre = (low + high) / 2
    static = centre + (high - centre) * driving.mean(axis=1)
    static = np.clip(np.round(static + model.static_noise_std * rng.standard_normal(2), 1),
                     low, high)
    static_std = rng.uniform(*model.static_std_range, size=2)
    return SongEmotion(
        song_id=int(song_id), duration_s=duration, control_times=times,
        driving={t: driving[i] for i, t in enumerate(TARGETS)},
        annotation={t: annotation[i] for i, t in enumerate(TARGETS)},
        annotation_std={t: annotation_std[i] for i, t in enumerate(TARGETS)},
        static_mean={t: float(static[i]) for i, t in enumerate(TARGETS)},
        static_std={t: float(static_std[i]) for i, t in enumerate(TARGETS)})


def draw_annotations(song_ids, *, seed: int = 2020, within_song_std: float = 0.03,
                     model: EmotionModel = EmotionModel()) -> dict[str, np.ndarray]:
    """Continuous annotations of many songs without audio: target -> (n_songs, 61).

    Identical to what ``generate_synthetic_dataset`` writes for the same (seed, song id).
    """
    emotions = [draw_song_emotion(s, seed=seed, within_song_std=within_song_std, model=model)
                for s in song_ids]
    return {t: np.stack([e.annotation[t] for e in emotions]) for t in TARGETS}


def annotation_statistics(arousal: np.ndarray, valence: np.ndarray) -> dict[str, float]:
    """Summary statistics of (n_songs, n_frames) annotation matrices, as used to fit the model.

    ``mean_*`` / ``std_*``: over all frames; ``between_share_*``: share of the frame variance
    that lies between song means; ``within_std_*``: mean over songs of each song's std;
    ``lag1_autocorr_*``: pooled lag-1 autocorrelation of within-song deviations;
    ``av_corr``: correlation of arousal and valence over all frames.
    """
    stats = {}
    for name, x in (("arousal", arousal), ("valence", valence)):
        x = np.asarray(x, float)
        deviation = x - x.mean(axis=1, keepdims=True)
        total = x.var()
        stats[f"mean_{name}"] = float(x.mean())
        stats[f"std_{name}"] = float(x.std())
        stats[f"between_share_{name}"] = float(x.mean(axis=1).var() / total) if total else 0.0
        stats[f"within_std_{name}"] = float(x.std(axis=1).mean())
        denominator = np.sum(deviation**2)
        stats[f"lag1_autocorr_{name}"] = (
            float(np.sum(deviation[:, 1:] * deviation[:, :-1]) / denominator)
            if denominator else float("nan"))
    stats["av_corr"] = float(np.corrcoef(np.ravel(arousal), np.ravel(valence))[0, 1])
    return stats


# ---------------------------------------------------------------------------------------
# Music
# ---------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _wavetables() -> np.ndarray:
    """(_N_BRIGHTNESS, _WAVETABLE_SIZE) single cycles of 20 harmonics, equal RMS.

    Harmonic k has amplitude k^-p, p from 2.8 (dull, flute-like) to 1.0 (bright, saw-like).
    """
    phase = np.arange(_WAVETABLE_SIZE) / _WAVETABLE_SIZE
    harmonics = np.arange(1, 21)
    partials = np.sin(2 * np.pi * np.outer(harmonics, phase))
    tables = []
    for slope in np.linspace(2.8, 1.0, _N_BRIGHTNESS):
        amplitudes = harmonics ** -slope
        table = amplitudes @ partials
        tables.append(table / np.sqrt(np.mean(table**2)))
    return np.asarray(tables, dtype=np.float32)


def _midi_to_hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, float) - 69.0) / 12.0)


def _render_voices(n: int, onsets, lengths, midis, amps, brightness, attack_s, decay_s,
                   sustain: float, release_s: float = 0.03) -> np.ndarray:
    """Sum of monophonic, phase-continuous wavetable voices sharing one note grid.

    ``onsets`` (sorted) and ``lengths`` in samples, one per note; each note sounds until the
    next onset at most. ``midis`` and ``amps``: (n_voices, n_notes), one row per voice
    (the chord voices share rhythm and envelope, so it is computed once). ``brightness``
    in [0, 1] per note picks the wavetable; envelope: exponential attack, exponential decay
    to ``sustain``, linear release. Rendered in cache-sized blocks (much faster than
    whole-clip temporaries).
    """
    out = np.zeros(n, dtype=np.float32)
    onsets = np.asarray(onsets, np.int64)
    if len(onsets) == 0 or onsets[0] >= n:
        return out
    midis = np.atleast_2d(np.asarray(midis, float))
    amps = np.broadcast_to(np.atleast_2d(np.asarray(amps, np.float32)), midis.shape)
    lengths, brightness, attack_s, decay_s = (
        np.broadcast_to(np.asarray(x, float), onsets.shape)
        for x in (lengths, brightness, attack_s, decay_s))
    segment = np.diff(np.append(onsets, n))
    note = np.repeat(np.arange(len(onsets), dtype=np.int32), segment)
    # Per-note constants; phase is continuous across notes: each note starts where the
    # previous one's phase ended.
    cycles = _midi_to_hz(midis) / SAMPLE_RATE  # (n_voices, n_notes) cycles per sample
    start_phase = np.concatenate([np.zeros((len(midis), 1)),
                                  np.cumsum(cycles[:, :-1] * segment[:-1], axis=1)], axis=1)
    start_phase -= np.floor(start_phase)
    # phase (in table entries) at sample i of note k: slope[k] * i + intercept[k]
    slope = cycles * _WAVETABLE_SIZE
    intercept = (start_phase - cycles * onsets) * _WAVETABLE_SIZE
    inverse_attack = (-1.0 / (attack_s * SAMPLE_RATE)).astype(np.float32)
    inverse_decay = (-1.0 / (decay_s * SAMPLE_RATE)).astype(np.float32)
    sounding = np.minimum(lengths, segment).astype(np.float32)
    inverse_release = np.float32(1.0 / (release_s * SAMPLE_RATE))
    row = np.clip(np.round(brightness * (_N_BRIGHTNESS - 1)), 0, _N_BRIGHTNESS - 1)
    table_offset = row.astype(np.int64) * _WAVETABLE_SIZE
    tables = _wavetables().ravel()
    constant_amp = [np.ptp(a) == 0 for a in amps]
    for first in range(int(onsets[0]), n, _BLOCK):
        last = min(n, first + _BLOCK)
        k = note[first - onsets[0]: last - onsets[0]]
        sample = np.arange(first, last, dtype=np.float64)
        since = (sample - onsets[k]).astype(np.float32)
        envelope = 1 - np.exp(since * inverse_attack[k])
        envelope *= sustain + (1 - sustain) * np.exp(since * inverse_decay[k])
        envelope *= np.clip((sounding[k] - since) * inverse_release, 0, 1)
        block = np.zeros(last - first, np.float32)
        offset = table_offset[k]
        for voice in range(len(midis)):
            if constant_amp[voice] and amps[voice, 0] == 0:
                continue
            phase = slope[voice, k]
            phase *= sample
            phase += intercept[voice, k]
            index = phase.astype(np.int64)
            index &= _WAVETABLE_SIZE - 1
            index += offset
            wave = tables.take(index)
            if constant_amp[voice]:
                wave *= amps[voice, 0]
            else:
                wave *= amps[voice, k]
            block += wave
        block *= envelope
        out[first:last] = block
    return out


def _drum_templates(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Kick (pitch-swept sine), snare (band noise + tone) and hi-hat (high-passed noise)."""

    def seconds(s):
        return np.arange(int(s * SAMPLE_RATE)) / SAMPLE_RATE

    t = seconds(0.35)
    sweep = 45 + 90 * np.exp(-t / 0.03)
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE) * np.exp(-t / 0.11)
    kick[:40] += rng.uniform(-0.4, 0.4, 40) * np.linspace(1, 0, 40)
    t = seconds(0.25)
    snare_noise = sosfilt(butter(2, [1200, 6000], "bandpass", fs=SAMPLE_RATE, output="sos"),
                          rng.standard_normal(len(t)))
    snare = (1.6 * snare_noise * np.exp(-t / 0.06)
             + 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04))
    t = seconds(0.09)
    hat = sosfilt(butter(4, 7000, "highpass", fs=SAMPLE_RATE, output="sos"),
                  rng.standard_normal(len(t))) * np.exp(-t / 0.018)
    templates = {"kick": kick, "snare": snare, "hat": hat}
    return {k: (v / np.max(np.abs(v))).astype(np.float32) for k, v in templates.items()}


def _place(out: np.ndarray, template: np.ndarray, onsets, gains) -> None:
    for onset, gain in zip(onsets, gains):
        if 0 <= onset < len(out):
            end = min(len(out), onset + len(template))
            out[onset:end] += gain * template[: end - onset]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _compose_and_render(emotion: SongEmotion, rng: np.random.Generator) -> np.ndarray:
    """Turn the driving curves into audio (see the module docstring for the mapping)."""
    n = int(round(emotion.duration_s * SAMPLE_RATE))
    times = emotion.control_times
    ua = np.tanh(emotion.driving["arousal"] / DRIVE_SCALE)
    uv = np.tanh(emotion.driving["valence"] / DRIVE_SCALE)

    # Tempo follows arousal locally: integrate beats per second over the control grid.
    bpm = np.clip(TEMPO_BPM + TEMPO_SPAN_BPM * ua + TEMPO_JITTER_BPM * rng.standard_normal(),
                  50, 190)
    beats = rng.uniform(0, 4) + np.concatenate([[0], np.cumsum(bpm[:-1] / 60 / CONTROL_RATE)])
    first_step = int(np.ceil(beats[0] * 4))
    steps = np.arange(first_step, int(np.floor(beats[-1] * 4)) + 1)
    step_time = np.interp(steps / 4, beats, times)
    step_time = step_time[step_time < emotion.duration_s]
    steps = steps[: len(step_time)]
    step_sample = np.round(step_time * SAMPLE_RATE).astype(np.int64)
    a = np.interp(step_time, times, ua)  # arousal drive at each 16th step
    v = np.interp(step_time, times, uv)
    sub = steps % 4  # position within the beat (0 = on the beat)
    beat_in_bar = (steps // 4) % 4
    bar = steps // 16
    bright = (a + 1) / 2

    # Harmony: per bar, mode from valence, chord from the song's progression in that mode.
    tonic = 48 + int(rng.integers(0, 12))
    progression = int(rng.integers(0, len(_MAJOR_PROGRESSIONS)))
    mode_bias = 0.5 * rng.standard_normal()
    bars, bar_first = np.unique(bar, return_index=True)
    major = rng.random(len(bars)) < _sigmoid(MODE_SLOPE * v[bar_first] + mode_bias)
    tension_choice = rng.integers(0, len(_TENSION_INTERVALS), len(bars))
    chord_root = np.empty(len(bars), int)
    chord_third = np.empty(len(bars), int)
    for i, b in enumerate(bars):
        table = _MAJOR_PROGRESSIONS if major[i] else _MINOR_PROGRESSIONS
        root, quality = table[progression][b % 4]
        chord_root[i], chord_third[i] = root, _THIRD[quality]
    step_bar = np.searchsorted(bars, bar)

    # Chords: four voices, re-struck per bar / half bar / beat as arousal rises.
    restrike_every = np.where(a > 0.35, 4, np.where(a > -0.35, 8, 16))
    restrike = (sub == 0) & ((steps % 16) % restrike_every == 0)
    restrike[0] = True
    on = np.flatnonzero(restrike)
    centre = CHORD_CENTRE_MIDI + CHORD_SPAN_SEMITONES * v[on]
    root_midi = tonic + chord_root[step_bar[on]]
    root_midi = root_midi + 12 * np.round((centre - root_midi - 3.5) / 12)
    tension = np.clip(0.5 - 0.9 * v[on], 0, 1) ** 1.5
    intervals = [np.zeros(len(on)), chord_third[step_bar[on]], np.full(len(on), 7),
                 _TENSION_INTERVALS[tension_choice[step_bar[on]]]]
    voice_amps = [np.full(len(on), 0.55), np.full(len(on), 0.5), np.full(len(on), 0.45),
                  0.55 * tension]
    lengths = np.diff(np.append(step_sample[on], n))
    attack = 0.02 + 0.12 * (1 - bright[on])
    decay = 0.4 + 1.6 * (1 - bright[on])
    chords = _render_voices(n, step_sample[on], lengths, root_midi + np.array(intervals),
                            np.array(voice_amps), 0.8 * bright[on], attack, decay, sustain=0.35)

    # Bass: chord root, on downbeats always, other beats / 8ths more often as arousal rises.
    p_bass = np.where(sub == 0, np.where(beat_in_bar == 0, 1.0, 0.25 + 0.65 * bright),
                      np.where(sub == 2, 0.5 * np.clip(a, 0, 1), 0.0))
    hit = rng.random(len(steps)) < p_bass
    hit[0] = True
    on = np.flatnonzero(hit)
    bass_midi = tonic - 12 + chord_root[step_bar[on]]
    bass_midi = np.where(bass_midi > tonic - 5, bass_midi - 12, bass_midi)
    lengths = np.diff(np.append(step_sample[on], n))
    bass = _render_voices(n, step_sample[on], lengths, bass_midi,
                         0.8 * (0.85 + 0.15 * rng.random(len(on))), 0.3 + 0.5 * bright[on],
                         0.008, 0.35, sustain=0.5)

    # Melody: a random walk on the bar's scale, denser when aroused, higher when positive,
    # with chromatic neighbours (dissonance) more likely when negative.
    weight = np.select([sub == 0, sub == 2], [1.5, 1.0], 0.55)
    p_note = np.clip((0.1 + 0.55 * bright) * weight, 0, 0.95)
    hit = rng.random(len(steps)) < p_note
    hit[0] = True
    on = np.flatnonzero(hit)
    melody_midi = np.empty(len(on))
    degree = 7 * 5  # index into an extended scale, 5 octaves up from MIDI 0 + tonic
    for i, s in enumerate(on):
        scale = _MAJOR_SCALE if major[step_bar[s]] else _MINOR_SCALE
        centre = MELODY_CENTRE_MIDI + MELODY_SPAN_SEMITONES * v[s]
        pitch = (tonic % 12) + 12 * (degree // 7) + scale[degree % 7]
        pull = int(np.clip(np.round((centre - pitch) / 4), -2, 2))
        degree += int(rng.choice([-2, -1, -1, 0, 1, 1, 2])) + (pull if rng.random() < 0.5 else 0)
        pitch = (tonic % 12) + 12 * (degree // 7) + scale[degree % 7]
        if rng.random() < 0.25 * np.clip(0.3 - v[s], 0, 1.3):
            pitch += rng.choice([-1, 1])
        melody_midi[i] = pitch
    gap = np.diff(np.append(step_sample[on], n))
    legato = 0.55 + 0.4 * (1 - bright[on])
    lengths = (gap * legato).astype(np.int64)
    velocity = 0.55 * (0.8 + 0.2 * rng.random(len(on))) * np.where(sub[on] == 0, 1.0, 0.8)
    melody = _render_voices(n, step_sample[on], lengths, melody_midi, velocity, bright[on],
                            0.004 + 0.04 * (1 - bright[on]), 0.25 + 0.5 * (1 - bright[on]),
                            sustain=0.45)

    # Drums: level and density rise with arousal; silent for the calmest passages.
    drums = np.zeros(n, np.float32)
    kit = _drum_templates(rng)
    level = _sigmoid(4.0 * (a + 0.35))
    jitter = rng.integers(-90, 90, len(steps))
    kick_hit = (sub == 0) & ((beat_in_bar % 2 == 0) | (rng.random(len(steps)) < np.clip(a, 0, 1)))
    snare_hit = (sub == 0) & (beat_in_bar % 2 == 1)
    hat_hit = ((sub % 2 == 0) & (rng.random(len(steps)) < level)) | \
              ((sub % 2 == 1) & (rng.random(len(steps)) < 0.8 * np.clip(a, 0, 1)))
    for name, hits, gain in (("kick", kick_hit, 0.9), ("snare", snare_hit, 0.55),
                             ("hat", hat_hit, 0.22)):
        idx = np.flatnonzero(hits & (level > 0.05))
        velocity = gain * level[idx] * (0.8 + 0.2 * rng.random(len(idx)))
        _place(drums, kit[name], step_sample[idx] + jitter[idx], velocity)

    # Mix: a few early reflections on the tonal bus, arousal-driven gain, soft limiter.
    tonal = 0.16 * chords + 0.32 * bass + 0.3 * melody
    for delay_s, g in ((0.0297, 0.32), (0.0371, 0.25), (0.0411, 0.2), (0.0533, 0.15)):
        d = int(delay_s * SAMPLE_RATE)
        tonal[d:] += g * tonal[:-d]
    gain_db = GAIN_DB + GAIN_SPAN_DB * ua
    gain = np.interp(np.arange(n) / SAMPLE_RATE, times, 10 ** (gain_db / 20)).astype(np.float32)
    mix = gain * (0.55 * tonal + 0.5 * drums)
    return (OUTPUT_PEAK * np.tanh(mix / OUTPUT_PEAK)).astype(np.float32)


def _song_info(song_id: int, rng: np.random.Generator) -> dict[str, str]:
    start = int(rng.integers(0, 150))
    end = start + 45

    def min_sec(seconds: int) -> str:  # emoMusic writes 0:48 as 0.48 and 0:20 as 0.2
        return f"{float(f'{seconds // 60}.{seconds % 60:02d}'):g}"

    return {"artist": str(rng.choice(_ARTISTS)),
            "title": f"{rng.choice(_TITLE_WORDS[0])} {rng.choice(_TITLE_WORDS[1])}",
            "start": min_sec(start), "end": min_sec(end),
            "genre": str(rng.choice(GENRES))}


def synthesize_song(song_id: int, *, seed: int = 2020, within_song_std: float = 0.03,
                    model: EmotionModel = EmotionModel()) -> SyntheticSong:
    """One song's audio (float32, mono, ``SAMPLE_RATE``), latent curves and annotations.

    Pure: depends only on the arguments.
    """
    emotion = draw_song_emotion(song_id, seed=seed, within_song_std=within_song_std, model=model)
    _, audio_rng, info_rng = _song_rngs(seed, song_id)
    audio = _compose_and_render(emotion, audio_rng)
    return SyntheticSong(audio=audio, emotion=emotion, info=_song_info(song_id, info_rng))


# ---------------------------------------------------------------------------------------
# Writing the dataset
# ---------------------------------------------------------------------------------------

def _write_song(job: tuple) -> tuple[SongEmotion, dict[str, str]]:
    song_id, seed, within_song_std, model, clips = job
    song = synthesize_song(song_id, seed=seed, within_song_std=within_song_std, model=model)
    sf.write(Path(clips) / f"{song_id}.mp3", song.audio, SAMPLE_RATE, format="MP3")
    return song.emotion, song.info


def _number(x: float) -> str:
    return f"{x:.15g}"


def _write_annotations(folder: Path, emotions: list[SongEmotion], infos: list[dict],
                       split: dict[int, str]) -> None:
    header = ",".join(["song_id", *CONTINUOUS_COLUMNS]) + "\n"
    for target in TARGETS:
        for statistic, attribute in (("average", "annotation"), ("std", "annotation_std")):
            lines = [header]
            for e in emotions:
                values = getattr(e, attribute)[target]
                lines.append(",".join([str(e.song_id), *map(_number, values)]) + "\n")
            (folder / continuous_file(target, statistic)).write_text("".join(lines))
    lines = ["song_id,mean_arousal,std_arousal,mean_valence,std_valence\n"]
    for e in emotions:
        lines.append(f"{e.song_id},{e.static_mean['arousal']:g},{e.static_std['arousal']:.5g},"
                     f"{e.static_mean['valence']:g},{e.static_std['valence']:.5g}\n")
    (folder / STATIC_ANNOTATIONS).write_text("".join(lines))
    # songs_info.csv: every field quoted, and padded with stray tabs exactly as emoMusic's.
    lines = ['"song_id","file_name","Artist","Song title","start of the segment (min.sec)",'
             '"end of the segment (min.sec)","Genre","Mediaeval 2013 set"\n']
    for e, info in zip(emotions, infos):
        lines.append(f'{e.song_id},"\t{e.song_id}.mp3","{info["artist"]}\t","\t{info["title"]}\t",'
                     f'"\t{info["start"]}\t","\t{info["end"]}\t","\t{info["genre"]}\t",'
                     f'"{split[e.song_id]}"\n')
    (folder / SONGS_INFO).write_text("".join(lines))


def generate_synthetic_dataset(root: str | Path, *, n_songs: int = 100, seed: int = 2020,
                               within_song_std: float = 0.03, workers: int = 1,
                               model: EmotionModel | None = None) -> Path:
    """Write a synthetic dataset in the emoMusic layout under ``root``; return ``root``.

    ``n_songs`` songs (2..999) with ids drawn from 2..1000; ``within_song_std``: expected
    per-song std of the continuous annotations over their 61 samples before rater noise
    (0 gives constant-level songs); ``workers``: processes used to synthesise and encode
    (the output is identical for any value); ``model``: the emotion/rater parameters
    (default ``EmotionModel()``). Built in a temporary sibling folder and renamed into
    place, so an interrupted run leaves no half dataset; an existing ``root`` is replaced.
    """
    _check_arguments(n_songs, seed, within_song_std, workers)
    model = EmotionModel() if model is None else model
    if not isinstance(model, EmotionModel):
        raise ConfigError(f"model must be an EmotionModel, got {type(model).__name__}")
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    song_ids = choose_song_ids(n_songs, seed)
    with atomic_directory(root) as staging:
        clips = staging / CLIPS_DIR
        annotations = staging / ANNOTATIONS_DIR
        clips.mkdir()
        annotations.mkdir()
        jobs = [(int(s), int(seed), float(within_song_std), model, str(clips)) for s in song_ids]
        if workers == 1:
            results = [_write_song(job) for job in jobs]
        else:
            # fork where available: Snakemake's `script:` files run unguarded top-level code,
            # which "spawn" would re-execute in every worker; the jobs are pure, so a forked
            # worker's inherited state cannot change the output.
            method = "fork" if "fork" in get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                     mp_context=get_context(method)) as pool:
                results = list(pool.map(_write_song, jobs))
        emotions, infos = zip(*results)
        _write_annotations(annotations, list(emotions), list(infos),
                           _evaluation_split(song_ids, seed))
    return root
