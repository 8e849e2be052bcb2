"""Instruments: wavetable voices and one-shot drums, rendered into float32 buffers.

Conventions: mono at ``SAMPLE_RATE``; onsets and lengths in samples; pitches in MIDI
numbers (69 = A4 = 440 Hz); brightness in [0, 1] picks one of ``N_BRIGHTNESS`` wavetables
(harmonic roll-off from flute-like to saw-like). Voices are monophonic and
phase-continuous across notes; drums are templates added at their onsets.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

from mer.frames import SAMPLE_RATE

_WAVETABLE_SIZE = 4096  # a power of two: phases wrap with a bit mask
_N_BRIGHTNESS = 8
_BLOCK = 1 << 14  # samples per rendering block


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


def midi_to_hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, float) - 69.0) / 12.0)


def render_voices(n: int, onsets, lengths, midis, amps, brightness, attack_s, decay_s,
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
    cycles = midi_to_hz(midis) / SAMPLE_RATE  # (n_voices, n_notes) cycles per sample
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


def drum_templates(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A song's kit: kick (pitch-swept sine), snare (band noise + tone) and hi-hat
    (high-passed noise), each tuned at random so kits differ from song to song."""

    def seconds(s):
        return np.arange(int(s * SAMPLE_RATE)) / SAMPLE_RATE

    t = seconds(0.35)
    sweep = rng.uniform(38, 55) + rng.uniform(60, 120) * np.exp(-t / 0.03)
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE) * np.exp(-t / rng.uniform(0.07, 0.15))
    kick[:40] += rng.uniform(-0.4, 0.4, 40) * np.linspace(1, 0, 40)
    t = seconds(0.25)
    low = rng.uniform(900, 1800)
    snare_noise = sosfilt(butter(2, [low, low * rng.uniform(3, 6)], "bandpass", fs=SAMPLE_RATE,
                                 output="sos"), rng.standard_normal(len(t)))
    snare = (1.6 * snare_noise * np.exp(-t / rng.uniform(0.04, 0.09))
             + 0.5 * np.sin(2 * np.pi * rng.uniform(160, 230) * t) * np.exp(-t / 0.04))
    t = seconds(0.09)
    hat = sosfilt(butter(4, rng.uniform(5000, 9000), "highpass", fs=SAMPLE_RATE, output="sos"),
                  rng.standard_normal(len(t))) * np.exp(-t / rng.uniform(0.012, 0.03))
    templates = {"kick": kick, "snare": snare, "hat": hat}
    return {k: (v / np.max(np.abs(v))).astype(np.float32) for k, v in templates.items()}


def place(out: np.ndarray, template: np.ndarray, onsets, gains) -> None:
    for onset, gain in zip(onsets, gains):
        if 0 <= onset < len(out):
            end = min(len(out), onset + len(template))
            out[onset:end] += gain * template[: end - onset]
