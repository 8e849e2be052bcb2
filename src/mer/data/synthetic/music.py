"""Music: a song's audio from its emotion, style and key plan.

Units: seconds, MIDI pitches, dB; audio mono float32 at ``SAMPLE_RATE``. The emotion
(``SongEmotion.musical``) is normalised, ``u = tanh(d / DRIVE_SCALE)``, mixed with the
song's style into cue curves ``cue_c(t) = w_c u(t) + (1 - w_c) r_c``
(``mer.data.synthetic.styles``) and applied *time-locally* on a 16th-note grid:

* tempo cue -> beats per minute (``style.tempo_bpm`` +- ``TEMPO_SPAN_BPM``, integrated so
  the beat follows within-song changes);
* density cue -> chord re-strikes (every bar, half bar or beat), bass and melody notes;
* percussion cue -> level and density of kick / snare / hi-hat (times the style's kit
  level: a Classical song has no drums whatever its arousal);
* brightness cue -> harmonic roll-off of the wavetables and softer or sharper envelopes
  (plus the song's own instrument timbre, independent of emotion);
* dynamics cue -> within-song gain, ``DYNAMICS_SPAN_DB`` per unit of the cue's deviation
  from its clip mean (the mean itself is removed by mastering);
* register cue (valence) -> melody and chord centre pitches;
* consonance cue (valence) -> a dissonant tension tone (minor 2nd, tritone or minor 9th
  above the root) and chromatic melody neighbours;
* key plan (``SongEmotion.keys``) -> tonic, scale and chord progression of each key
  region, from the first beat after the modulation time. Major keys use progressions with
  minor chords (ii, vi) and minor keys ones with major chords (V, VI, VII), so a bar's
  chord alone does not tell the key: the bars before it do.

Mastering, independent of the emotion: a tilt EQ (``TILT_DB_RANGE``, treble against bass
around ``TILT_CROSSOVER_HZ``), then the whole clip scaled to an RMS level drawn from
``LOUDNESS_DBFS_RANGE``, then a soft limiter below ``OUTPUT_PEAK``. So a song's loudness
says nothing about its arousal; only its within-song changes do.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from mer.data.synthetic.emotion import CONTROL_RATE, DRIVE_SCALE, SongEmotion
from mer.data.synthetic.instruments import drum_templates, place, render_voices
from mer.data.synthetic.styles import AROUSAL_CUES, VALENCE_CUES
from mer.frames import SAMPLE_RATE

TEMPO_SPAN_BPM, TEMPO_JITTER_BPM = 36.0, 8.0
DYNAMICS_SPAN_DB = 14.0
LOUDNESS_DBFS_RANGE = (-26.0, -16.0)  # mastered RMS level of the whole clip
TILT_DB_RANGE = (-1.5, 1.5)
TILT_CROSSOVER_HZ = 1500.0
TIMBRE_JITTER = 0.05  # std of a song's instrument brightness offset
MELODY_CENTRE_MIDI, MELODY_SPAN_SEMITONES = 70.0, 7.0
CHORD_CENTRE_MIDI, CHORD_SPAN_SEMITONES = 58.0, 5.0
OUTPUT_PEAK = 0.9  # soft-limiter ceiling, leaves headroom for MP3 overshoot

_MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 11])  # harmonic minor: the raised 7th marks the key
# Progressions per bar as (root in semitones above the tonic, third in semitones). Minor
# keys cadence on a major V (its third is the leading tone), as in common practice.
_MAJOR_PROGRESSIONS = np.array([[(0, 4), (7, 4), (9, 3), (5, 4)],     # I V vi IV
                                [(0, 4), (9, 3), (5, 4), (7, 4)],     # I vi IV V
                                [(0, 4), (5, 4), (7, 4), (0, 4)],     # I IV V I
                                [(0, 4), (2, 3), (7, 4), (0, 4)]])    # I ii V I
_MINOR_PROGRESSIONS = np.array([[(0, 3), (5, 3), (7, 4), (0, 3)],     # i iv V i
                                [(0, 3), (8, 4), (5, 3), (7, 4)],     # i VI iv V
                                [(0, 3), (10, 4), (8, 4), (7, 4)],    # i VII VI V
                                [(0, 3), (5, 3), (0, 3), (7, 4)]])    # i iv i V
_TENSION_INTERVALS = np.array([1, 6, 13])  # minor 2nd, tritone, minor 9th above the root
_REFLECTIONS = ((0.0297, 0.32), (0.0371, 0.25), (0.0411, 0.2), (0.0533, 0.15))  # s, gain


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _beat_grid(emotion: SongEmotion, tempo_cue: np.ndarray, rng: np.random.Generator):
    """16th-note steps: (step numbers, times in s, samples). Tempo follows the cue."""
    times = emotion.control_times
    bpm = np.clip(emotion.style.style.tempo_bpm + TEMPO_SPAN_BPM * tempo_cue
                  + TEMPO_JITTER_BPM * rng.standard_normal(), 50, 190)
    beats = rng.uniform(0, 4) + np.concatenate([[0], np.cumsum(bpm[:-1] / 60 / CONTROL_RATE)])
    steps = np.arange(int(np.ceil(beats[0] * 4)), int(np.floor(beats[-1] * 4)) + 1)
    step_time = np.interp(steps / 4, beats, times)
    keep = step_time < emotion.duration_s
    steps, step_time = steps[keep], step_time[keep]
    return steps, step_time, np.round(step_time * SAMPLE_RATE).astype(np.int64)


def _harmony(emotion: SongEmotion, steps: np.ndarray, step_time: np.ndarray,
             rng: np.random.Generator):
    """Per step: tonic MIDI, major, chord root and third (semitones), beat in the bar.

    A key region starts at the first beat at or after its modulation time; its bars (and
    its progression) are counted from there.
    """
    sub = steps % 4
    beat_index = np.arange(len(steps))
    beat_start = np.maximum.accumulate(np.where(sub == 0, beat_index, 0))
    region = emotion.keys.region_at(step_time)[beat_start]
    first_beat = steps[beat_start] // 4
    new_region = np.concatenate([[True], region[1:] != region[:-1]])
    region_beat0 = np.maximum.accumulate(np.where(new_region, first_beat, 0))
    local_beat = first_beat - region_beat0
    bar_chord = (local_beat // 4) % 4
    major = emotion.keys.major[region]
    major_prog = _MAJOR_PROGRESSIONS[int(rng.integers(len(_MAJOR_PROGRESSIONS)))]
    minor_prog = _MINOR_PROGRESSIONS[int(rng.integers(len(_MINOR_PROGRESSIONS)))]
    chord = np.where(major[:, None], major_prog[bar_chord], minor_prog[bar_chord])
    tonic = 48 + emotion.keys.tonics[region]
    return tonic, major, chord[:, 0], chord[:, 1], local_beat


def render_song(emotion: SongEmotion, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The song's audio (float32) and its mastered RMS level (dBFS); see the docstring."""
    n = int(round(emotion.duration_s * SAMPLE_RATE))
    times = emotion.control_times
    style = emotion.style
    ua = np.tanh(emotion.musical["arousal"] / DRIVE_SCALE)
    uv = np.tanh(emotion.musical["valence"] / DRIVE_SCALE)
    cues = {c: style.cue(c, ua) for c in AROUSAL_CUES}
    cues.update({c: style.cue(c, uv) for c in VALENCE_CUES})

    steps, step_time, step_sample = _beat_grid(emotion, cues["tempo"], rng)
    at = {c: np.interp(step_time, times, cues[c]) for c in cues}
    density = at["density"]
    density01 = (density + 1) / 2
    bright = (at["brightness"] + 1) / 2
    timbre = np.clip(bright + 0.5 * style.style.timbre + TIMBRE_JITTER * rng.standard_normal(),
                     0, 1)
    register, consonance = at["register"], at["consonance"]
    sub = steps % 4  # position within the beat (0 = on the beat)
    tonic, major, chord_root, chord_third, local_beat = _harmony(emotion, steps, step_time, rng)
    beat_in_bar = local_beat % 4

    # Chords: four voices, re-struck per bar / half bar / beat as density rises.
    every = np.where(density > 0.35, 1, np.where(density > -0.35, 2, 4))
    restrike = (sub == 0) & (local_beat % every == 0)
    restrike[0] = True
    on = np.flatnonzero(restrike)
    centre = CHORD_CENTRE_MIDI + CHORD_SPAN_SEMITONES * register[on]
    root_midi = tonic[on] + chord_root[on]
    root_midi = root_midi + 12 * np.round((centre - root_midi - 3.5) / 12)
    tension = np.clip(0.5 - 0.9 * consonance[on], 0, 1) ** 1.5
    tension_interval = _TENSION_INTERVALS[rng.integers(0, len(_TENSION_INTERVALS), len(on))]
    intervals = [np.zeros(len(on)), chord_third[on], np.full(len(on), 7), tension_interval]
    voice_amps = [np.full(len(on), 0.55), np.full(len(on), 0.5), np.full(len(on), 0.45),
                  0.55 * tension]
    lengths = np.diff(np.append(step_sample[on], n))
    chords = render_voices(n, step_sample[on], lengths, root_midi + np.array(intervals),
                           np.array(voice_amps), 0.8 * timbre[on], 0.02 + 0.12 * (1 - bright[on]),
                           0.4 + 1.6 * (1 - bright[on]), sustain=0.35)

    # Bass: chord root, on downbeats always, other beats / 8ths more often as density rises.
    p_bass = np.where(sub == 0, np.where(beat_in_bar == 0, 1.0, 0.25 + 0.65 * density01),
                      np.where(sub == 2, 0.5 * np.clip(density, 0, 1), 0.0))
    hit = rng.random(len(steps)) < p_bass
    hit[0] = True
    on = np.flatnonzero(hit)
    bass_midi = tonic[on] - 12 + chord_root[on]
    bass_midi = np.where(bass_midi > tonic[on] - 5, bass_midi - 12, bass_midi)
    lengths = np.diff(np.append(step_sample[on], n))
    bass = render_voices(n, step_sample[on], lengths, bass_midi,
                         0.8 * (0.85 + 0.15 * rng.random(len(on))), 0.3 + 0.5 * timbre[on],
                         0.008, 0.35, sustain=0.5)

    # Melody: a random walk on the region's scale, denser with density, higher with the
    # register cue, with chromatic neighbours (dissonance) as consonance falls.
    weight = np.select([sub == 0, sub == 2], [1.5, 1.0], 0.55)
    hit = rng.random(len(steps)) < np.clip((0.1 + 0.55 * density01) * weight, 0, 0.95)
    hit[0] = True
    on = np.flatnonzero(hit)
    melody_midi = np.empty(len(on))
    degree = 7 * 5  # index into an extended scale, 5 octaves up from the tonic's class
    moves = rng.choice([-2, -1, -1, 0, 1, 1, 2], len(on))
    pulls, chromatic, sides = rng.random(len(on)), rng.random(len(on)), rng.choice([-1, 1], len(on))
    for i, s in enumerate(on):
        scale = _MAJOR_SCALE if major[s] else _MINOR_SCALE
        key = tonic[s] % 12
        target = MELODY_CENTRE_MIDI + MELODY_SPAN_SEMITONES * register[s]
        pitch = key + 12 * (degree // 7) + scale[degree % 7]
        pull = int(np.clip(np.round((target - pitch) / 4), -2, 2))
        degree += int(moves[i]) + (pull if pulls[i] < 0.5 else 0)
        pitch = key + 12 * (degree // 7) + scale[degree % 7]
        if chromatic[i] < 0.25 * np.clip(0.3 - consonance[s], 0, 1.3):
            pitch += sides[i]
        melody_midi[i] = pitch
    gap = np.diff(np.append(step_sample[on], n))
    lengths = (gap * (0.55 + 0.4 * (1 - bright[on]))).astype(np.int64)
    velocity = 0.55 * (0.8 + 0.2 * rng.random(len(on))) * np.where(sub[on] == 0, 1.0, 0.8)
    melody = render_voices(n, step_sample[on], lengths, melody_midi, velocity, timbre[on],
                           0.004 + 0.04 * (1 - bright[on]), 0.25 + 0.5 * (1 - bright[on]),
                           sustain=0.45)

    # Drums: level and density rise with the percussion cue, scaled by the style's kit.
    drums = np.zeros(n, np.float32)
    perc = at["percussion"]
    level = style.style.drums * _sigmoid(4.0 * (perc + 0.35))
    kit = drum_templates(rng)
    jitter = rng.integers(-90, 90, len(steps))
    busy = np.clip(perc, 0, 1)
    kick_hit = (sub == 0) & ((beat_in_bar % 2 == 0) | (rng.random(len(steps)) < busy))
    snare_hit = (sub == 0) & (beat_in_bar % 2 == 1)
    hat_hit = (((sub % 2 == 0) & (rng.random(len(steps)) < level))
               | ((sub % 2 == 1) & (rng.random(len(steps)) < 0.8 * busy * style.style.drums)))
    for name, hits, gain in (("kick", kick_hit, 0.9), ("snare", snare_hit, 0.55),
                             ("hat", hat_hit, 0.22)):
        idx = np.flatnonzero(hits & (level > 0.05))
        place(drums, kit[name], step_sample[idx] + jitter[idx],
              gain * level[idx] * (0.8 + 0.2 * rng.random(len(idx))))

    # Mix: early reflections (the song's room) on the tonal bus, within-song dynamics.
    tonal = 0.16 * chords + 0.32 * bass + 0.3 * melody
    room = rng.uniform(0.4, 1.3)
    for delay_s, g in _REFLECTIONS:
        d = int(delay_s * SAMPLE_RATE)
        tonal[d:] += room * g * tonal[:-d]
    dynamics_db = DYNAMICS_SPAN_DB * (cues["dynamics"] - cues["dynamics"].mean())
    gain = np.interp(np.arange(n) / SAMPLE_RATE, times,
                     10 ** (dynamics_db / 20)).astype(np.float32)
    mix = gain * (0.55 * tonal + 0.5 * drums)
    return _master(mix, rng)


def _master(mix: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Tilt EQ, whole-clip RMS to a drawn level, soft limiter (see the module docstring)."""
    tilt_db = rng.uniform(*TILT_DB_RANGE)
    loudness_dbfs = float(rng.uniform(*LOUDNESS_DBFS_RANGE))
    alpha = np.exp(-2 * np.pi * TILT_CROSSOVER_HZ / SAMPLE_RATE)
    low = lfilter([1 - alpha], [1, -alpha], mix).astype(np.float32)
    shaped = (10 ** (-tilt_db / 40) * low + 10 ** (tilt_db / 40) * (mix - low)).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(shaped, dtype=np.float64))))
    shaped *= np.float32(10 ** (loudness_dbfs / 20) / max(rms, 1e-9))
    return (OUTPUT_PEAK * np.tanh(shaped / OUTPUT_PEAK)).astype(np.float32), loudness_dbfs
