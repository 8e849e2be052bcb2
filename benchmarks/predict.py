"""Speed of ``mer predict``: seconds per minute of audio (decode + features + inference).

    .venv/bin/python benchmarks/predict.py                       # 3-min song, spectral + compare
    .venv/bin/python benchmarks/predict.py --seconds 60 --sets spectral --threads 1

For each feature set and model, one generated stereo 44.1 kHz WAV of ``--seconds`` is
predicted as ``mer predict`` does it (``mer.predict.predict_song``: decode, mix down,
features of every whole 500 ms frame, standardise, model forward pass), after one warm-up
on 5 s of audio (first-call costs: numba JIT, openSMILE start-up). Models are untrained
(random weights): inference time does not depend on the weights. Wall and CPU seconds
are both printed, with the load average: on a shared machine the wall time is inflated. torch, BLAS and numba are
capped to ``--threads`` (default 2). Target: a 3-minute song in under 10 s on 2 cores;
the script prints the verdict per row.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def untrained_bundle(model_name: str, set_name: str):
    from mer.bundle import Bundle
    from mer.features import feature_set
    from mer.models import build_model

    dims = feature_set(set_name).dims
    model = build_model(model_name, input_dim=dims).eval()
    return Bundle(Path("."), model, model_name, "arousal", set_name, "per_segment",
                  np.zeros(dims, np.float32), np.ones(dims, np.float32), {})


def write_song(path: Path, seconds: float, rate: int = 44_100) -> None:
    import soundfile as sf
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0))
    left = 0.1 * chord * (0.6 + 0.4 * np.sin(2 * np.pi * t / 7)) + 0.02 * rng.standard_normal(t.size)
    sf.write(path, np.stack([left, 0.8 * left], axis=1).astype(np.float32), rate, subtype="PCM_16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180)")
    parser.add_argument("--sets", nargs="+", default=["spectral", "compare"])
    parser.add_argument("--models", nargs="+", default=["LSTM_32", "AT_32"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--target-s", type=float, default=10.0,
                        help="budget for a 3-minute song (default 10 s)")
    args = parser.parse_args()

    from mer.runtime import limit_threads
    limit_threads(args.threads)
    import torch
    torch.set_num_threads(args.threads)
    from mer.audio import load_audio
    from mer.features import extract_clip_features
    from mer.predict import predict_song

    from mer.training import predict

    def timed(function, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args)
        return result, time.perf_counter() - wall, time.process_time() - cpu

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        song, warm = Path(folder) / "song.wav", Path(folder) / "warm.wav"
        write_song(song, args.seconds)
        write_song(warm, 5.0)
        load_audio(warm)
        audio, decode_s, decode_cpu = timed(load_audio, song)
        for set_name in args.sets:
            extract_clip_features(load_audio(warm), [set_name])  # warm-up (JIT, start-up)
            features, features_s, features_cpu = timed(extract_clip_features, audio, [set_name])
            for model_name in args.models:
                bundle = untrained_bundle(model_name, set_name)
                predict_song(warm, {"arousal": bundle})  # warm-up
                x = bundle.normalise(features[set_name])[None]
                _, model_s, model_cpu = timed(predict, bundle.model, x)
                # mer predict runs one model per target: arousal + valence
                wall = decode_s + features_s + 2 * model_s
                cpu = decode_cpu + features_cpu + 2 * model_cpu
                rows.append((set_name, model_name, decode_s, features_s, 2 * model_s, wall, cpu))

    minutes = args.seconds / 60
    print(f"mer predict speed: {args.seconds:.0f} s stereo 44.1 kHz WAV, {args.threads} thread(s), "
          f"{len(features[set_name])} frames, arousal + valence models")
    print(f"{'features':<9} {'model':<8} {'decode s':>8} {'features s':>10} {'models s':>8} "
          f"{'total s':>8} {'CPU s':>6} {'s / audio min':>13} {'3-min song s':>12}  "
          f"target < {args.target_s:g} s")
    for set_name, model_name, decode_s, features_s, models_s, total_s, cpu_s in rows:
        per_minute = total_s / minutes
        verdict = "met" if per_minute * 3 < args.target_s else "MISSED"
        print(f"{set_name:<9} {model_name:<8} {decode_s:8.2f} {features_s:10.2f} {models_s:8.2f} "
              f"{total_s:8.2f} {cpu_s:6.1f} {per_minute:13.2f} {per_minute * 3:12.1f}  {verdict}")
    print(f"load average during the run: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"(on {os.cpu_count()} cores; other processes slow the wall times)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
