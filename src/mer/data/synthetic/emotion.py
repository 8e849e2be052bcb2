"""A song's latent emotion, its key plan, and what listeners perceive.

Units: seconds; emotion values on the dataset's [-1, 1] scale; curves on a
``CONTROL_RATE`` = 10 Hz grid ``control_times`` covering the whole clip.

1. **Levels and within-song variation.** Each song draws a level per target from a
   bivariate normal (``EmotionModel.level_mean``, ``level_std``, correlation ``av_corr``),
   unit-variance AR(1) variations ``w_a``, ``w_v`` (time constant ``within_tau_s``,
   innovations correlated ``av_corr``) and a log-normal spread multiplier ``m`` (mean 1,
   log-std ``within_spread_log_std``), so a few songs vary much more than most.
2. **Style** (``mer.data.synthetic.styles``): which cues carry the emotion in this song.
3. **Key plan.** The clip is cut at ``Poisson(modulations_per_clip)`` modulation times (at
   least ``min_region_s`` apart) into key regions, each major with probability
   ``sigmoid(mode_slope * u_v + style.mode_bias + noise)`` (``u_v = tanh(level_v /
   DRIVE_SCALE)``), so happier songs spend more time in major. A change of mode moves to
   the relative or the parallel key, a change within a mode by a fourth, fifth or tone.
4. **Perceived emotion** (what raters report, before their lag and smoothing)::

       arousal(t) = level_a + s_a m w_a(t)
       valence(t) = level_v + s_v m (w_v(t) + context_weight * h(t))

   ``h`` is the *established mode*: the region's mode (+1 major, -1 minor) smoothed
   causally over ``context_tau_s`` (listeners need a few bars to hear that the key has
   changed), minus its clip mean. Right after a modulation the music already plays the new
   key's chords but the valence reported still follows the old key, and it moves over
   seconds: a model that looks back earns something. ``s_a``, ``s_v`` are set so that the
   *expected per-song std* of the noise-free annotation over its 61 samples equals
   ``within_song_std`` (computed once per model by a fixed-seed simulation).
   The music renders ``musical`` curves, the perceived ones without ``h`` (the harmony
   carries ``h`` itself through the key plan).

Determinism: everything here derives from the emotion stream of
``song_rngs(seed, song_id)`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mer.data.emomusic import TARGETS
from mer.data.synthetic.raters import annotate, ar1, causal_smooth, rater_filter
from mer.data.synthetic.styles import SongStyle, draw_style
from mer.errors import ConfigError

CONTROL_RATE = 10  # Hz: the latent curves' grid
CLIP_SECONDS_RANGE = (45.06, 45.09)  # real emoMusic clip lengths
DRIVE_SCALE = 0.45  # u = tanh(d / DRIVE_SCALE): song levels (std ~0.3) span most of (-1, 1)
_CALIBRATION_SONGS = 1500  # simulated songs behind s_a, s_v (std error of the mean ~1 %)


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
    modulations_per_clip: float = 1.2  # mean number of key changes in a clip
    min_region_s: float = 7.0  # shortest key region
    mode_slope: float = 4.0  # log-odds of major per unit of u_v
    mode_noise_std: float = 0.7  # song-to-song log-odds noise
    context_tau_s: float = 4.0  # time listeners take to register a new mode
    context_weight: float = 1.0  # weight of the established mode in within-song valence
    rater_lag_s: float = 1.0
    rater_smoothing_s: float = 1.0
    annotation_noise_std: float = 0.004
    annotation_noise_tau_s: float = 1.5
    rater_std_range: tuple[float, float] = (0.12, 0.32)
    static_noise_std: float = 0.25  # on the 1-9 scale
    static_std_range: tuple[float, float] = (0.7, 2.2)


@dataclass(frozen=True)
class KeyPlan:
    """Key regions of a song: region ``i`` starts at ``starts_s[i]`` (the first at 0 s)
    with tonic pitch class ``tonics[i]`` (0 = C) and ``major[i]``."""

    starts_s: np.ndarray
    tonics: np.ndarray
    major: np.ndarray

    def region_at(self, times) -> np.ndarray:
        """Index of the region sounding at each time (s)."""
        return np.searchsorted(self.starts_s, np.asarray(times), side="right") - 1

    def mode_at(self, times) -> np.ndarray:
        """+1 where the sounding region is major, -1 where minor."""
        return np.where(self.major[self.region_at(times)], 1.0, -1.0)


@dataclass(frozen=True)
class SongEmotion:
    """One song's latent emotion and its annotations (as written to the CSV files)."""

    song_id: int
    duration_s: float
    control_times: np.ndarray  # (n_control,) s, step 1 / CONTROL_RATE
    driving: dict[str, np.ndarray]  # target -> (n_control,) perceived emotion, [-1, 1]
    musical: dict[str, np.ndarray]  # target -> (n_control,) what the cues render locally
    annotation: dict[str, np.ndarray]  # target -> (61,) rater average at annotation_times()
    annotation_std: dict[str, np.ndarray]  # target -> (61,) rater spread
    static_mean: dict[str, float]  # target -> 1..9
    static_std: dict[str, float]
    style: SongStyle
    keys: KeyPlan


def check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")


def check_within_song_std(within_song_std) -> None:
    try:
        value = float(within_song_std)
    except (TypeError, ValueError):
        raise ConfigError(f"synthetic.within_song_std must be a number, "
                          f"got {within_song_std!r}") from None
    if not 0.0 <= value <= 0.5:
        raise ConfigError(f"synthetic.within_song_std must be in [0, 0.5] (the annotation "
                          f"scale is [-1, 1]), got {within_song_std!r}")


def song_rngs(seed: int, song_id: int) -> tuple[np.random.Generator, ...]:
    """Independent streams for (emotion, audio, info): each depends on (seed, song_id) only."""
    children = np.random.SeedSequence([int(seed), int(song_id)]).spawn(3)
    return tuple(np.random.default_rng(child) for child in children)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _draw_key_plan(rng: np.random.Generator, duration: float, u_valence: float,
                   style: SongStyle, model: EmotionModel) -> KeyPlan:
    p_major = _sigmoid(model.mode_slope * u_valence + style.style.mode_bias
                       + model.mode_noise_std * rng.standard_normal())
    candidates = np.sort(rng.uniform(model.min_region_s, duration - 2.0,
                                     rng.poisson(model.modulations_per_clip)))
    starts = [0.0]
    for t in candidates:
        if t - starts[-1] >= model.min_region_s:
            starts.append(float(t))
    major = rng.random(len(starts)) < p_major
    tonics = [int(rng.integers(12))]
    for i in range(1, len(starts)):
        if major[i] != major[i - 1]:  # relative (C -> a, a -> C) or parallel (C -> c) key
            step = (-3 if major[i - 1] else 3) if rng.random() < 0.5 else 0
        else:
            step = int(rng.choice([5, 7, 2, -2]))
        tonics.append((tonics[-1] + step) % 12)
    return KeyPlan(starts_s=np.array(starts), tonics=np.array(tonics), major=major)


def _established_mode(keys: KeyPlan, times: np.ndarray, model: EmotionModel) -> np.ndarray:
    """h(t): the mode smoothed over ``context_tau_s``, minus its clip mean."""
    h = causal_smooth(keys.mode_at(times), model.context_tau_s, CONTROL_RATE)
    return h - h.mean()


def _latent(rng: np.random.Generator, model: EmotionModel):
    """Draw one song's duration, levels, spread, variations, style and key plan."""
    duration = float(rng.uniform(*CLIP_SECONDS_RANGE))
    times = np.arange(int(np.ceil(duration * CONTROL_RATE)) + 1) / CONTROL_RATE
    mean = np.asarray(model.level_mean)
    sd = np.asarray(model.level_std)
    cov = np.outer(sd, sd) * np.array([[1, model.av_corr], [model.av_corr, 1]])
    level = mean + np.linalg.cholesky(cov) @ rng.standard_normal(2)
    spread = np.exp(model.within_spread_log_std * rng.standard_normal()
                    - model.within_spread_log_std**2 / 2)
    rho = np.exp(-1.0 / (CONTROL_RATE * model.within_tau_s))
    w = ar1(rng, len(times), rho, n_series=2, corr=model.av_corr)
    style = draw_style(rng)
    keys = _draw_key_plan(rng, duration, float(np.tanh(level[1] / DRIVE_SCALE)), style, model)
    h = _established_mode(keys, times, model)
    return duration, times, level, spread, w, style, keys, h


@lru_cache(maxsize=32)
def unit_within_std(model: EmotionModel) -> tuple[float, float]:
    """Expected per-song std over the 61 samples of the rater-filtered unit variations:
    ``w_a`` for arousal, ``w_v + context_weight * h`` for valence.

    A fixed-seed simulation of ``_CALIBRATION_SONGS`` songs (the key plans make a closed
    form impractical); identical in every process.
    """
    stds = np.empty((_CALIBRATION_SONGS, 2))
    for i in range(_CALIBRATION_SONGS):
        rng = np.random.default_rng(np.random.SeedSequence([7919, i]))
        _, times, _, _, w, _, _, h = _latent(rng, model)
        unit = np.stack([w[0], w[1] + model.context_weight * h])
        filtered = rater_filter(unit, times, lag_s=model.rater_lag_s,
                                smoothing_s=model.rater_smoothing_s, rate_hz=CONTROL_RATE)
        stds[i] = filtered.std(axis=1)
    return float(stds[:, 0].mean()), float(stds[:, 1].mean())


def draw_song_emotion(song_id: int, *, seed: int = 2020, within_song_std: float = 0.03,
                      model: EmotionModel = EmotionModel()) -> SongEmotion:
    """Latent curves, style, key plan and annotations of one song (cheap: no audio)."""
    check_seed(seed)
    check_within_song_std(within_song_std)
    rng = song_rngs(seed, song_id)[0]
    duration, times, level, spread, w, style, keys, h = _latent(rng, model)
    unit_a, unit_v = unit_within_std(model)
    s_a = float(within_song_std) * spread / unit_a
    s_v = float(within_song_std) * spread / unit_v
    musical = np.clip(np.stack([level[0] + s_a * w[0], level[1] + s_v * w[1]]), -1.0, 1.0)
    perceived = np.clip(np.stack([level[0] + s_a * w[0],
                                  level[1] + s_v * (w[1] + model.context_weight * h)]),
                        -1.0, 1.0)
    average, spread_std, static, static_std = annotate(perceived, times, model, rng,
                                                       CONTROL_RATE)

    def per_target(x):
        return {t: x[i] for i, t in enumerate(TARGETS)}

    return SongEmotion(
        song_id=int(song_id), duration_s=duration, control_times=times,
        driving=per_target(perceived), musical=per_target(musical),
        annotation=per_target(average), annotation_std=per_target(spread_std),
        static_mean={t: float(static[i]) for i, t in enumerate(TARGETS)},
        static_std={t: float(static_std[i]) for i, t in enumerate(TARGETS)},
        style=style, keys=keys)


def draw_annotations(song_ids, *, seed: int = 2020, within_song_std: float = 0.03,
                     model: EmotionModel = EmotionModel()) -> dict[str, np.ndarray]:
    """Continuous annotations of many songs without audio: target -> (n_songs, 61).

    Identical to what ``generate_synthetic_dataset`` writes for the same (seed, song id).
    """
    emotions = [draw_song_emotion(s, seed=seed, within_song_std=within_song_std, model=model)
                for s in song_ids]
    return {t: np.stack([e.annotation[t] for e in emotions]) for t in TARGETS}
