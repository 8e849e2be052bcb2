"""Speed and memory of ``mer predict``: in-process, as a cold CLI process, and on 1 hour.

    .venv/bin/python benchmarks/predict.py                   # 3-min song: in-process + cold CLI
    .venv/bin/python benchmarks/predict.py --hour            # + 1 h of audio: extract and predict
    .venv/bin/python benchmarks/predict.py --skip-in-process --repeat 5 --pythonpath OLD/src

Three measurements, each printed as a markdown table:

* **in-process** (``mer.predict.predict_song``'s steps, after a warm-up on 5 s of audio, so
  imports, numba loading and openSMILE start-up are excluded): decode, features of every
  whole 500 ms frame, both models. This is the cost per song of a batch of songs.
* **cold CLI**: ``mer predict SONG --model A --model V`` as a new process, the way a user
  runs it once: process start, imports (torch, librosa, numba's cache), decode, features,
  models, CSV. Wall and CPU seconds and peak RSS of that process (``os.wait4``; CPU
  includes its feature workers, ``mer.predict_worker``; peak RSS is the largest process),
  and the peak of the summed RSS of the process and its workers (sampled from /proc, an
  upper bound: pages shared after the fork count once per process), repeated
  ``--repeat`` times; the minimum wall time is the figure (other processes only add).
* **1 hour** (``--hour``): a generated 1-hour stereo 44.1 kHz WAV (635 MB, written block by
  block into a temporary folder, deleted after): ``mer features extract spectral`` and
  ``mer predict`` as processes, wall time, peak RSS and the tree's peak. Target: peak RSS
  < 1.5 GB (the verdict takes the larger of the two).

The song is a generated chord with a slow loudness change and a little noise (stereo 44.1 kHz
PCM-16 WAV). Bundles are untrained models (random weights, written with
``mer.bundle.write_bundle``): time and memory do not depend on the weights. ``--pythonpath``
runs the CLI processes with another source tree (e.g. an export of an older commit), to
compare before and after in the same session. torch, BLAS and numba are capped to
``--threads`` (default 2). The load average is printed: wall times on a shared machine are
inflated, so compare figures measured in the same session.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

RATE = 44_100


def write_song(path: Path, seconds: float, rate: int = RATE, block_s: float = 60.0) -> None:
    """A stereo PCM-16 WAV of ``seconds``, written a minute at a time (bounded memory)."""
    import soundfile as sf
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as out:
        for start in np.arange(0, int(seconds * rate), int(block_s * rate)):
            n = min(int(block_s * rate), int(seconds * rate) - start)
            t = (start + np.arange(n)) / rate
            chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0))
            left = (0.1 * chord * (0.6 + 0.4 * np.sin(2 * np.pi * t / 7))
                    + 0.02 * rng.standard_normal(n))
            out.write(np.stack([left, 0.8 * left], axis=1).astype(np.float32))


def untrained_bundle(model_name: str, set_name: str, target: str = "arousal"):
    from mer.bundle import Bundle
    from mer.features import feature_set
    from mer.models import build_model

    dims = feature_set(set_name).dims
    model = build_model(model_name, input_dim=dims).eval()
    return Bundle(Path("."), model, model_name, target, set_name, "per_segment",
                  np.zeros(dims, np.float32), np.ones(dims, np.float32), {})


def write_untrained_bundles(root: Path, model_name: str, set_name: str) -> list[Path]:
    """One bundle folder per target, as ``mer predict --model`` reads them."""
    from mer.bundle import write_bundle
    from mer.features import feature_set
    from mer.models import build_model

    dims = feature_set(set_name).dims
    folders = []
    for target in ("arousal", "valence"):
        model = build_model(model_name, input_dim=dims).eval()
        scaler = SimpleNamespace(mean=np.zeros(dims, np.float32), std=np.ones(dims, np.float32))
        folders.append(write_bundle(root / target / model_name, model, model_name=model_name,
                                    model_options={}, target=target, feature_set=set_name,
                                    compare_mode="per_segment", scaler=scaler,
                                    card={"dataset": "benchmark (untrained)"}))
    return folders


def run_process(command: list[str], env: dict) -> tuple[float, float, float, int, float]:
    """(wall s, CPU s, peak RSS MiB, exit code, peak RSS of the process tree MiB) of one
    process. CPU s and peak RSS come from ``os.wait4`` (CPU: the process and the children
    it waited for, i.e. ``mer predict``'s feature workers; peak RSS: the largest of them).
    The tree's peak is the sum of the RSS of the process and its descendants, sampled
    every 100 ms from /proc (Linux; NaN elsewhere): pages shared after a fork count in
    each process, so it is an upper bound of what they use together."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    tree_peak = [0.0 if Path("/proc/self/stat").exists() else float("nan")]
    done = threading.Event()
    sampler = threading.Thread(target=_sample_tree_rss, args=(process.pid, done, tree_peak))
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"FAILED ({code}): {' '.join(command)}\n{stderr[-2000:]}", file=sys.stderr)
    rss_mib = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return wall, usage.ru_utime + usage.ru_stime, rss_mib, code, tree_peak[0]


def _sample_tree_rss(root: int, done: threading.Event, peak: list[float]) -> None:
    if peak[0] != peak[0]:  # NaN: no /proc
        return
    while not done.wait(0.1):
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            pid = int(stat.parent.name)
            children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: ppid
            rss[pid] = int(fields[21])  # resident pages
        tree, todo = [], [root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        total = sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20
        peak[0] = max(peak[0], total)


def child_env(args) -> dict:
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS"):
        env[variable] = str(args.threads)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    return env


def mer_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "mer.cli", *arguments]


def in_process(args, folder: Path, song: Path) -> list[tuple]:
    import torch

    from mer.audio import load_audio
    from mer.features import extract_clip_features
    from mer.predict import predict_song
    from mer.runtime import limit_threads
    from mer.training import predict

    limit_threads(args.threads)
    torch.set_num_threads(args.threads)

    def timed(function, *call_args):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*call_args)
        return result, time.perf_counter() - wall, time.process_time() - cpu

    warm = folder / "warm.wav"
    write_song(warm, 5.0)
    load_audio(warm)
    audio, decode_s, decode_cpu = timed(load_audio, song)
    rows = []
    for set_name in args.sets:
        extract_clip_features(load_audio(warm), [set_name])  # warm-up (numba, openSMILE)
        features, features_s, features_cpu = timed(extract_clip_features, audio, [set_name])
        for model_name in args.models:
            bundle = untrained_bundle(model_name, set_name)
            predict_song(warm, {"arousal": bundle})  # warm-up
            x = bundle.normalise(features[set_name])[None]
            _, model_s, model_cpu = timed(predict, bundle.model, x)
            # mer predict runs one model per target: arousal + valence
            rows.append((set_name, model_name, decode_s, features_s, 2 * model_s,
                         decode_s + features_s + 2 * model_s,
                         decode_cpu + features_cpu + 2 * model_cpu))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180)")
    parser.add_argument("--sets", nargs="+", default=["spectral"],
                        help="feature sets (default spectral, the exported bundles' default)")
    parser.add_argument("--models", nargs="+", default=["AT_32"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3,
                        help="cold CLI runs (default 3; 0 skips the cold CLI)")
    parser.add_argument("--target-s", type=float, default=6.0,
                        help="cold-start budget for a 3-minute song (default 6 s)")
    parser.add_argument("--hour", action="store_true", help="also time 1 hour of audio")
    parser.add_argument("--hour-seconds", type=float, default=3600.0, help=argparse.SUPPRESS)
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--pythonpath", help="PYTHONPATH of the CLI processes (default: this one)")
    args = parser.parse_args()

    env = child_env(args)
    print(f"load average at the start: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"(on {os.cpu_count()} cores); mer from "
          f"{args.pythonpath or os.environ.get('PYTHONPATH') or 'the installed package'}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        song = folder / "song.wav"
        write_song(song, args.seconds)
        minutes = args.seconds / 60

        if not args.skip_in_process:
            rows = in_process(args, folder, song)
            print(f"**In-process** (after a warm-up): {args.seconds:.0f} s stereo 44.1 kHz WAV, "
                  f"{args.threads} thread(s), arousal + valence models\n")
            print("| features | model | decode s | features s | models s | total s | CPU s "
                  "| s / audio min |")
            print("|---|---|---:|---:|---:|---:|---:|---:|")
            for set_name, model_name, decode_s, features_s, models_s, total_s, cpu_s in rows:
                print(f"| {set_name} | {model_name} | {decode_s:.2f} | {features_s:.2f} | "
                      f"{models_s:.2f} | {total_s:.2f} | {cpu_s:.1f} | {total_s / minutes:.2f} |")
            print()

        if args.repeat > 0:
            cold_cli(args, env, folder, song)
        if args.hour:
            one_hour(args, env, folder)
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"(on {os.cpu_count()} cores; other processes slow the wall times)")
    return 0


def cold_cli(args, env, folder: Path, song: Path) -> None:
    """``mer predict`` as a new process, ``--repeat`` times per (set, model)."""
    print(f"**Cold CLI** (`mer predict` as a new process, {args.repeat} runs; "
          f"target < {args.target_s:g} s for a 3-minute song)\n")
    print("| features | model | wall s (min) | wall s (all runs) | CPU s (min) "
          "| peak RSS MiB | tree peak RSS MiB | verdict |")
    print("|---|---|---:|---|---:|---:|---:|---|")
    for set_name in args.sets:
        for model_name in args.models:
            bundles = write_untrained_bundles(folder / "models" / set_name, model_name,
                                              set_name)
            command = mer_command("predict", str(song), "--quiet", "--out",
                                  str(folder / "out"),
                                  *[part for b in bundles for part in ("--model", str(b))])
            runs = [run_process(command, env) for _ in range(args.repeat)]
            walls = [r[0] for r in runs]
            three_minutes = abs(args.seconds - 180) < 1e-9  # a cold start does not scale
            verdict = ("FAILED" if any(r[3] for r in runs) else
                       "n/a (not 3 min)" if not three_minutes else
                       "met" if min(walls) < args.target_s else "MISSED")
            print(f"| {set_name} | {model_name} | {min(walls):.2f} | "
                  f"{', '.join(f'{w:.1f}' for w in walls)} | {min(r[1] for r in runs):.1f} | "
                  f"{max(r[2] for r in runs):.0f} | {max(r[4] for r in runs):.0f} | {verdict} |")
    print()


def one_hour(args, env, folder: Path) -> None:
    """``mer features extract`` and ``mer predict`` of a generated 1-hour WAV."""
    long_song = folder / "hour.wav"
    write_song(long_song, args.hour_seconds)
    set_name, model_name = args.sets[0], args.models[0]
    bundles = write_untrained_bundles(folder / "models" / set_name, model_name, set_name)
    commands = {
        f"mer features extract {set_name}": mer_command(
            "features", "extract", set_name, str(long_song), "-o",
            str(folder / "hour.npz"), "-q"),
        f"mer predict ({model_name} x 2)": mer_command(
            "predict", str(long_song), "--quiet", "--out", str(folder / "out"),
            *[part for b in bundles for part in ("--model", str(b))]),
    }
    print(f"**{args.hour_seconds / 3600:g} hour** of stereo 44.1 kHz WAV "
          f"({long_song.stat().st_size / 2**20:.0f} MiB), one process each; "
          "target: peak RSS < 1.5 GB\n")
    print("| command | wall s | CPU s | peak RSS MiB | tree peak RSS MiB | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    for label, command in commands.items():
        wall, cpu, rss, code, tree = run_process(command, env)
        verdict = ("FAILED" if code else "met" if max(rss, tree if tree == tree else 0)
                   < 1.5e9 / 2**20 else "MISSED")
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {tree:.0f} | {verdict} |")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
