"""Builders for the real-dataset tests: tiny copies in the real layouts, a Range-capable server.

Used by test_download.py, test_deam.py and test_data_check.py.
"""

from __future__ import annotations

import io
import shutil
import struct
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
FORMAT_SAMPLE = REPO / "tests" / "data" / "emomusic-format-sample"
SAMPLE_IDS = [2, 3, 4, 5, 7]  # the songs of the annotation format sample
RATE = 44_100


def write_mp3(path: Path, seconds: float = 1.0, *, freq: float = 440.0, cover_art: bool = False) -> Path:
    """A sine MP3; with ``cover_art`` an ID3v2.3 tag (title + APIC picture) is prepended,
    as in the real emoMusic clips."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), RATE, format="MP3")
    audio = buffer.getvalue()
    if cover_art:
        audio = id3v2_tag() + audio
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(audio)
    return path


def id3v2_tag() -> bytes:
    def frame(name: bytes, body: bytes) -> bytes:  # v2.3 frame sizes are plain big-endian
        return name + struct.pack(">I", len(body)) + b"\x00\x00" + body

    picture = b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(4000)
    frames = (frame(b"TIT2", b"\x00Tonight A Lonely Century")
              + frame(b"APIC", b"\x00image/png\x00\x03cover\x00" + picture))
    size = len(frames)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + frames


def make_emomusic_copy(root: Path, song_ids=SAMPLE_IDS, seconds: float = 1.0) -> Path:
    """``root/annotations`` (the real sample's files) and ``root/clips_45seconds/{id}.mp3``."""
    shutil.copytree(FORMAT_SAMPLE, root / "annotations", ignore=shutil.ignore_patterns("README.md"))
    for i, song_id in enumerate(song_ids):
        write_mp3(root / "clips_45seconds" / f"{song_id}.mp3", seconds, freq=220.0 * (1 + i))
    return root


def make_emomusic_archives(folder: Path, work: Path) -> dict[str, bytes]:
    """The two emoMusic archives, as bytes by file name, in the real layout."""
    copy = make_emomusic_copy(work / "copy")
    archives = {}
    for name, member in (("clips_45sec.tar.gz", "clips_45seconds"), ("annotations.tar.gz", "annotations")):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(copy / member, arcname=member)
        archives[name] = buffer.getvalue()
        (folder / name).write_bytes(archives[name])
    return archives


class FileServer:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1 with HTTP Range support.

    ``cut_after``: the next full or ranged response announces its whole length but closes
    the connection after this many bytes (an interrupted download). ``ignore_range``: answer
    200 with the whole file even when asked for a range. ``html``: paths that answer with a
    form page. Every request's Range header is recorded in ``ranges``.
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.html: set[str] = set()
        self.cut_after: int | None = None
        self.ignore_range = False
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server's name)
                server.ranges.append(self.headers.get("Range"))
                if self.path in server.html:
                    body = b"<html><form>Please fill in the form</form></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path not in server.files:
                    self.send_error(404)
                    return
                data = server.files[self.path]
                start, status = 0, 200
                requested = self.headers.get("Range")
                if requested and not server.ignore_range:
                    start = int(requested.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                body = data[start:]
                self.send_response(status)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[:server.cut_after], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------
# DEAM
# ---------------------------------------------------------------------------------------

DEAM_DYNAMIC = "annotations/annotations averaged per song/dynamic (per second annotations)"
DEAM_STATIC = "annotations/annotations averaged per song/song_level"
DEAM_LENGTHS = {2: 60, 3: 60, 2001: 75}  # two 45 s excerpts and one longer full song


def deam_sequence(song_id: int, target: str, length: int) -> np.ndarray:
    rng = np.random.default_rng([song_id, 0 if target == "arousal" else 1])
    return np.round(np.clip(np.cumsum(rng.normal(0, 0.02, length)), -0.9, 0.9), 6)


def deam_dynamic_csv(target: str, lengths=DEAM_LENGTHS) -> str:
    width = max(lengths.values())
    header = ["song_id"] + [f"sample_{15000 + 500 * i}ms" for i in range(width)]
    lines = [",".join(header)]
    for song_id, length in lengths.items():
        values = [f"{v:g}" for v in deam_sequence(song_id, target, length)]
        lines.append(",".join([str(song_id), *values, *[""] * (width - length)]))
    return "\n".join(lines) + "\n"


# 65 LLDs x (value, its delta) x (std, mean) = DEAM's 260 columns, named and ordered as in
# DEAM's features/<id>.csv: F0final_sma_stddev, F0final_sma_amean, ... then the deltas,
# ... pcm_fftMag_mfcc_sma_de[14]_amean (written out here independently of mer's code).
_DEAM_LLDS = ("F0final", "voicingFinalUnclipped", "jitterLocal", "jitterDDP", "shimmerLocal",
              "logHNR", "audspec_lengthL1norm", "audspecRasta_lengthL1norm", "pcm_RMSenergy",
              "pcm_zcr", *(f"audSpec_Rfilt{{}}[{i}]" for i in range(26)),
              "pcm_fftMag_fband250-650", "pcm_fftMag_fband1000-4000",
              "pcm_fftMag_spectralRollOff25.0", "pcm_fftMag_spectralRollOff50.0",
              "pcm_fftMag_spectralRollOff75.0", "pcm_fftMag_spectralRollOff90.0",
              "pcm_fftMag_spectralFlux", "pcm_fftMag_spectralCentroid",
              "pcm_fftMag_spectralEntropy", "pcm_fftMag_spectralVariance",
              "pcm_fftMag_spectralSkewness", "pcm_fftMag_spectralKurtosis",
              "pcm_fftMag_spectralSlope", "pcm_fftMag_psySharpness",
              "pcm_fftMag_spectralHarmonicity", *(f"pcm_fftMag_mfcc{{}}[{i}]" for i in range(1, 15)))
DEAM_FEATURE_COLUMNS = [(name.format(f"_{kind}") if "{}" in name else f"{name}_{kind}") + f"_{stat}"
                        for kind in ("sma", "sma_de") for name in _DEAM_LLDS
                        for stat in ("stddev", "amean")]


def deam_features_csv(song_id: int, n_rows: int) -> str:
    """DEAM's features/<id>.csv: ';'-separated, frameTime (0, 0.5, ...) + 260 columns."""
    rng = np.random.default_rng([song_id, 7])
    lines = [";".join(["frameTime", *DEAM_FEATURE_COLUMNS])]
    for row in range(n_rows):
        values = rng.normal(song_id % 7, 1.0, len(DEAM_FEATURE_COLUMNS))
        lines.append(";".join([f"{0.5 * row:g}", *(f"{v:.6f}" for v in values)]))
    return "\n".join(lines) + "\n"


def make_deam_copy(root: Path, lengths=DEAM_LENGTHS, audio_seconds: float = 1.0,
                   features: bool = False) -> Path:
    """An unzipped DEAM copy: annotations (real file names, quirks) and MEMD_audio/{id}.mp3;
    with ``features``, also features/{id}.csv rows for the whole ``audio_seconds``."""
    dynamic = root / DEAM_DYNAMIC
    dynamic.mkdir(parents=True)
    for target in ("arousal", "valence"):
        (dynamic / f"{target}.csv").write_text(deam_dynamic_csv(target, lengths))
    static = root / DEAM_STATIC
    static.mkdir(parents=True)
    excerpts = [s for s in lengths if s <= 2000]
    full = [s for s in lengths if s > 2000]
    (static / "static_annotations_averaged_songs_1_2000.csv").write_text(
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"
        + "".join(f"{s}, {3 + i / 10:g}, 0.9, {6 + i / 10:g}, 1.1\n" for i, s in enumerate(excerpts)))
    # an extra column here checks that only the four known ones are read
    (static / "static_annotations_averaged_songs_2000_2058.csv").write_text(
        "song_id, valence_mean, valence_std, valence_max_mean, arousal_mean, arousal_std\n"
        + "".join(f"{s}, 4.5, 1.2, 7, 5.5, 1.3\n" for s in full))
    for song_id in lengths:
        write_mp3(root / "MEMD_audio" / f"{song_id}.mp3", audio_seconds, freq=220 + 40 * (song_id % 9))
        if features:
            (root / "features").mkdir(exist_ok=True)
            (root / "features" / f"{song_id}.csv").write_text(
                deam_features_csv(song_id, int(audio_seconds / 0.5)))
    return root


def zip_folder(folder: Path, zip_path: Path, members: list[str]) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zipped:
        for member in members:
            for path in sorted((folder / member).rglob("*")):
                zipped.write(path, path.relative_to(folder).as_posix())
    return zip_path


# --- DEAM exactly as distributed (DEAM_Annotations.zip unzipped, empty MEMD_audio/) -------

DEAM_EXCERPTS = {"2013": [2, 3, 4, 5, 7], "2014": [1001, 1002, 1003, 1004]}  # 60 samples each
# The seven full songs with one sample more in one target: (arousal, valence) lengths
DEAM_UNEQUAL = {2002: (230, 229), 2011: (1224, 1223), 2020: (348, 349), 2027: (424, 423),
                2036: (554, 555), 2042: (498, 499), 2045: (147, 146)}
DEAM_UNEQUAL_SHORT = {2002: (12, 11), 2011: (15, 14), 2020: (10, 11), 2027: (13, 12),
                      2036: (9, 10), 2042: (12, 13), 2045: (11, 10)}  # same quirk, fewer frames
DEAM_TINY_VALUE = "-2.77555756156e-18"  # a value as DEAM writes it (song 3, arousal, 6th sample)


def deam_distributed_lengths(short: bool = False) -> dict[int, tuple[int, int]]:
    """song id -> (arousal, valence) lengths of ``make_deam_distributed``."""
    lengths = {s: (60, 60) for ids in DEAM_EXCERPTS.values() for s in ids}
    lengths[2001] = (12, 12) if short else (68, 68)
    lengths.update(DEAM_UNEQUAL_SHORT if short else DEAM_UNEQUAL)
    return lengths


def _deam_levels(song_id: int) -> tuple[float, float]:
    """A song's mean (arousal, valence): spread over songs, unrelated between the targets."""
    rng = np.random.default_rng([song_id, 11])
    return float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.6, 0.6))


def deam_distributed_sequence(song_id: int, target: str, length: int) -> np.ndarray:
    level = _deam_levels(song_id)[0 if target == "arousal" else 1]
    rng = np.random.default_rng([song_id, 0 if target == "arousal" else 1, 5])
    return np.clip(level + np.cumsum(rng.normal(0, 0.01, length)), -0.95, 0.95)


def make_deam_distributed(root: Path, *, short: bool = False, features: bool = False,
                          audio_seconds: float | None = None, audio_ids=None) -> Path:
    """DEAM's annotation files as distributed, every quirk included, for a few songs of each
    id range: ragged dynamic rows (no trailing cells), arousal.csv's header to
    sample_626500ms (1225 columns) and valence.csv's to sample_626000ms (1224), 60-sample
    excerpts, the seven full songs one sample longer in one target, a value written
    ``-2.77555756156e-18``, the 1_2000 static file with spaces after commas and arousal and
    valence swapped for ids 2..1000 (population stds), the 2000_2058 file with max/min
    columns and its ``valence_ max_mean`` header. ``MEMD_audio/`` is empty unless
    ``audio_seconds`` (clips for ``audio_ids``, default all). ``short``: the full songs'
    quirk with fewer samples (for workflow tests). ``features``: features/<id>.csv too."""
    lengths = deam_distributed_lengths(short)
    dynamic = root / DEAM_DYNAMIC
    dynamic.mkdir(parents=True)
    for target, last_ms in (("arousal", 626_500), ("valence", 626_000)):
        header = ["song_id"] + [f"sample_{ms}ms" for ms in range(15_000, last_ms + 1, 500)]
        lines = [",".join(header)]
        for song_id, (n_arousal, n_valence) in lengths.items():
            n = n_arousal if target == "arousal" else n_valence
            cells = [f"{v:.12g}" for v in deam_distributed_sequence(song_id, target, n)]
            if song_id == 3 and target == "arousal":
                cells[5] = DEAM_TINY_VALUE
            lines.append(",".join([str(song_id), *cells]))  # ragged: the row just ends
        (dynamic / f"{target}.csv").write_text("\n".join(lines) + "\n")
    static = root / DEAM_STATIC
    static.mkdir(parents=True)
    rng = np.random.default_rng(3)

    def rating(song_id, target):  # 1..9 from the song's dynamic mean, as the raters' mean
        n = lengths[song_id][0 if target == "arousal" else 1]
        return 5 + 4 * float(np.mean(deam_distributed_sequence(song_id, target, n))) + rng.normal(0, 0.05)

    rows = []
    for song_id in sorted(s for s in lengths if s <= 2000):
        arousal, valence = rating(song_id, "arousal"), rating(song_id, "valence")
        a_std, v_std = rng.uniform(0.8, 2.0, 2)
        if song_id <= 1000:  # DEAM's swap: the 2013 songs' valence columns hold arousal
            arousal, valence, a_std, v_std = valence, arousal, v_std, a_std
        rows.append(f"{song_id}, {valence:.1f}, {v_std:.6f}, {arousal:.1f}, {a_std:.6f}")
    (static / "static_annotations_averaged_songs_1_2000.csv").write_text(
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n" + "\n".join(rows) + "\n")
    rows = []
    for song_id in sorted(s for s in lengths if s > 2000):
        arousal, valence = rating(song_id, "arousal"), rating(song_id, "valence")
        rows.append(", ".join([str(song_id), f"{valence:.2f}", "1.3", f"{valence + 1:.2f}", "1.1",
                               f"{valence - 1:.2f}", "1.2", f"{arousal:.2f}", "1.4",
                               f"{arousal + 1:.2f}", "1.0", f"{arousal - 1:.2f}", "1.1"]))
    (static / "static_annotations_averaged_songs_2000_2058.csv").write_text(
        "song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, "
        "valence_min_mean, valence_min_std, arousal_mean, arousal_std, arousal_max_mean, "
        "arousal_max_std, arousal_min_mean, arousal_min_std\n" + "\n".join(rows) + "\n")
    (root / "MEMD_audio").mkdir()
    if audio_seconds is not None:
        for song_id in (lengths if audio_ids is None else audio_ids):
            write_mp3(root / "MEMD_audio" / f"{song_id}.mp3", audio_seconds, freq=220 + 40 * (song_id % 9))
    if features:
        (root / "features").mkdir()
        for song_id, pair in lengths.items():
            (root / "features" / f"{song_id}.csv").write_text(deam_features_csv(song_id, 29 + max(pair) + 1))
    return root
