"""What a built-in clip costs to render and to write as MP3, with both writers.

    .venv/bin/python benchmarks/mp3_writer.py              # 8 songs, ~15 CPU-s
    .venv/bin/python benchmarks/mp3_writer.py --songs 20

Renders ``--songs`` built-in songs (``synthesize_song``, ids 2, 3, ...) and writes each
with ``mer.data.synthetic.mp3.encode_mp3`` (LAME through the lameenc wheel's library) and
with ``soundfile.write`` (libsndfile's LAME), and prints the CPU seconds per clip of each
step (``time.process_time``, one process), the mean bit rate and how many clips decode to
the same samples from both files. Generating the 744-song dataset costs about
744 × (render + write) CPU-s, split over the workers.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import soundfile as sf


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    args = parser.parse_args(argv)

    from mer.data.synthetic import synthesize_song
    from mer.data.synthetic.mp3 import encode_mp3
    from mer.frames import SAMPLE_RATE

    cost = {"render": 0.0, "mer (lameenc's LAME)": 0.0, "soundfile (libsndfile's LAME)": 0.0}
    same, n_bytes = 0, 0
    for song_id in range(2, 2 + args.songs):
        started = time.process_time()
        audio = synthesize_song(song_id).audio
        cost["render"] += time.process_time() - started
        started = time.process_time()
        ours = encode_mp3(audio, SAMPLE_RATE)
        cost["mer (lameenc's LAME)"] += time.process_time() - started
        started = time.process_time()
        buffer = io.BytesIO()
        sf.write(buffer, audio, SAMPLE_RATE, format="MP3")
        cost["soundfile (libsndfile's LAME)"] += time.process_time() - started
        if ours is None:
            raise SystemExit("lameenc's LAME library is not loadable here; install lameenc")
        n_bytes += len(ours)
        decoded = [sf.read(io.BytesIO(data), dtype="float32")[0]
                   for data in (ours, buffer.getvalue())]
        same += int(np.array_equal(*decoded))
    print(f"{args.songs} songs of ~45 s, mono, {SAMPLE_RATE} Hz; "
          f"mean bit rate {n_bytes * 8 / args.songs / 45 / 1000:.0f} kbps")
    print("\n| step | CPU-s per clip |\n|---|---:|")
    for step, seconds in cost.items():
        print(f"| {step} | {seconds / args.songs:.3f} |")
    ratio = cost["soundfile (libsndfile's LAME)"] / cost["mer (lameenc's LAME)"]
    print(f"\nlibsndfile / mer writer: {ratio:.1f}x; clips decoding to the same samples: "
          f"{same} of {args.songs}")


if __name__ == "__main__":
    main()
