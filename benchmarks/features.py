"""Benchmark: every feature set, our fast path against the naive per-segment reference.

    .venv/bin/python benchmarks/features.py [--clips N] [--seed S]

For N synthetic 45 s clips (``mer.data.synthetic.synthesize_song``, not timed) and one
thread (``mer.runtime.limit_threads(1)``), prints a markdown table with, per set:

* **fast, 61**: ``extract_clip_features`` on the 61 annotated frames (what the pipeline
  computes); **fast, 90**: on every whole frame of the clip. CPU seconds per clip
  (``time.process_time``, so other processes on the machine do not count).
* **RTF**: real-time factor of "fast, 61" = clip seconds per CPU second.
* **peak MiB**: peak of Python/numpy allocations during one clip's "fast, 61"
  (``tracemalloc``, measured in a separate untimed pass; openSMILE's C++ buffers are not
  seen by tracemalloc, so ComParE's figure is its Python side only).
* **reference**: the naive per-segment reference, in the same process: each of the 90
  500 ms segments sent on its own to openSMILE (``Smile.process_signal``, one Smile
  object) or to librosa (every block computed from the segment's samples, ``y=segment``,
  its hops averaged). A row's reference time is the sum of the measured times of its
  distinct blocks (a block shared by two sets of a one-call row counts once).
* **speed-up** = reference / fast (61 and 90 frames).

Rows "librosa sets" and "all five sets" are single calls that share blocks between sets,
as a user asking for several sets at once gets them.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
import warnings

import numpy as np

LIBROSA_SETS = ["chroma", "cqt", "chroma_cqt", "spectral"]


def _cpu(function, *args, **kwargs) -> float:
    start = time.process_time()
    function(*args, **kwargs)
    return time.process_time() - start


def _peak_mib(function, *args, **kwargs) -> float:
    tracemalloc.start()
    function(*args, **kwargs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def _naive_block_functions():
    """Each block from a segment's samples alone, as a per-segment script would call it."""
    from mer.runtime import import_librosa
    librosa = import_librosa()

    from mer.features import spectra as s
    sr = s.SAMPLE_RATE
    stft = dict(sr=sr, n_fft=s.N_FFT, hop_length=s.HOP_LENGTH)
    cqt = dict(sr=sr, hop_length=s.HOP_LENGTH, fmin=s.CQT_FMIN_HZ,
               bins_per_octave=s.CQT_BINS_PER_OCTAVE,
               n_octaves=s.CQT_N_BINS // s.CQT_BINS_PER_OCTAVE)
    f = librosa.feature
    return {
        "chroma_stft": lambda y: f.chroma_stft(y=y, tuning=0.0, **stft),
        "chroma_cqt": lambda y: f.chroma_cqt(y=y, **cqt),
        "cens": lambda y: f.chroma_cens(y=y, **cqt),
        "mfcc": lambda y: f.mfcc(S=librosa.power_to_db(f.melspectrogram(y=y, **stft),
                                                       top_db=None), n_mfcc=s.N_MFCC),
        "rms": lambda y: f.rms(y=y, frame_length=s.N_FFT, hop_length=s.HOP_LENGTH),
        "mel": lambda y: f.melspectrogram(y=y, **stft),
        "centroid": lambda y: f.spectral_centroid(y=y, **stft),
        "bandwidth": lambda y: f.spectral_bandwidth(y=y, **stft),
        "contrast": lambda y: f.spectral_contrast(y=y, **stft),
        "flatness": lambda y: f.spectral_flatness(y=y, n_fft=s.N_FFT, hop_length=s.HOP_LENGTH),
        "rolloff": lambda y: f.spectral_rolloff(y=y, **stft),
        "zcr": lambda y: f.zero_crossing_rate(y, frame_length=s.N_FFT, hop_length=s.HOP_LENGTH),
        "cqt": lambda y: np.abs(librosa.cqt(y, sr=sr, hop_length=s.HOP_LENGTH,
                                            fmin=s.CQT_FMIN_HZ, n_bins=s.CQT_N_BINS,
                                            bins_per_octave=s.CQT_BINS_PER_OCTAVE,
                                            tuning=0.0)),
    }


def _reference_block_seconds(audio: np.ndarray) -> dict[str, float]:
    """CPU seconds of each block (and of ComParE) over the clip's 90 segments, naively."""
    import opensmile

    from mer.features.registry import BLOCKS
    from mer.frames import FRAME_SAMPLES, SAMPLE_RATE, n_whole_frames
    segments = [audio[k * FRAME_SAMPLES:(k + 1) * FRAME_SAMPLES]
                for k in range(n_whole_frames(audio.size))]
    seconds = {}
    for name, function in _naive_block_functions().items():
        start = time.process_time()
        for segment in segments:
            function(segment).mean(axis=1)
        seconds[name] = time.process_time() - start
    smile = opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                            opensmile.FeatureLevel.Functionals)
    start = time.process_time()
    for segment in segments:
        smile.process_signal(segment, SAMPLE_RATE).to_numpy()
    seconds["compare"] = time.process_time() - start
    assert set(seconds) == set(BLOCKS)
    return seconds


def _rows():
    """(label, set names, compare_mode) of each table row."""
    return [("compare (per_segment)", ["compare"], "per_segment"),
            ("compare (one_pass)", ["compare"], "one_pass"),
            *[(name, [name], "per_segment") for name in LIBROSA_SETS],
            ("librosa sets, one call", LIBROSA_SETS, "per_segment"),
            ("all five sets, one call", ["compare", *LIBROSA_SETS], "per_segment")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2, help="number of clips (default 2)")
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args(argv)

    from mer.runtime import limit_threads
    limit_threads(1)
    from mer.data.synthetic import synthesize_song
    from mer.features import extract_clip_features, feature_set
    from mer.frames import SAMPLE_RATE, annotated_frame_indices
    warnings.simplefilter("ignore")  # librosa: "n_fft too large" on 0.5 s CQT segments

    clips = [synthesize_song(song_id, seed=args.seed).audio for song_id in range(args.clips)]
    annotated = annotated_frame_indices()
    extract_clip_features(clips[0][:3 * SAMPLE_RATE], ["compare", *LIBROSA_SETS],
                          frames=[1])  # warm-up: imports, numba compilation, filter caches

    fast61 = {label: [] for label, _, _ in _rows()}
    fast90 = {label: [] for label, _, _ in _rows()}
    reference = []
    for audio in clips:
        for label, sets, mode in _rows():
            fast61[label].append(_cpu(extract_clip_features, audio, sets, frames=annotated,
                                      compare_mode=mode))
            fast90[label].append(_cpu(extract_clip_features, audio, sets, compare_mode=mode))
        reference.append(_reference_block_seconds(audio))
    peaks = {label: _peak_mib(extract_clip_features, clips[0], sets, frames=annotated,
                              compare_mode=mode) for label, sets, mode in _rows()}

    seconds = np.mean([a.size / SAMPLE_RATE for a in clips])
    print(f"{args.clips} synthetic clip(s) of {seconds:.2f} s, 1 thread, CPU seconds per "
          f"clip (mean); reference = each of the 90 segments on its own\n")
    print("| set | dims | fast, 61 frames (s) | fast, 90 frames (s) | RTF (61) | peak MiB "
          "| reference, 90 segments (s) | speed-up 61 | speed-up 90 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, sets, _ in _rows():
        # each distinct block once, even in the one-call rows: a naive script that reused
        # blocks between sets would pay them once too (the conservative comparison)
        blocks = dict.fromkeys(b for name in sets for b in feature_set(name).blocks)
        ref = np.mean([sum(r[b] for b in blocks) for r in reference])
        f61, f90 = np.mean(fast61[label]), np.mean(fast90[label])
        dims = sum(feature_set(name).dims for name in sets)
        print(f"| {label} | {dims} | {f61:.2f} | {f90:.2f} | {seconds / f61:.0f}x | "
              f"{peaks[label]:.0f} | {ref:.2f} | {ref / f61:.1f}x | {ref / f90:.1f}x |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (everything above, openSMILE included): {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
