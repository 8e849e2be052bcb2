"""Feature worker processes of ``mer predict``: features computed while torch is imported.

A cold ``mer predict`` of a 3-minute song spends ~2.4 s importing librosa (scipy.signal,
numba's cache), ~2.3 s importing torch and pandas and loading the bundles, ~3.5 CPU-s on
the features and ~0.3 s on two AT models (``benchmarks/predict.py``). One process does
these one after the other; here, on 2 cores:

* ``FeatureWorker()`` starts the **leader** process first (``fork`` on Linux while torch
  is not imported, else ``spawn``: each worker then imports librosa itself). It imports librosa while the parent
  imports torch and pandas and loads the bundles.
* ``submit(songs, plan, chunk_frames)`` sends it the songs and the feature plan
  (``mer.predict.feature_plan``). The leader starts ``n_parts - 1`` **helpers** (forked
  from it, so librosa is imported there already; with ``spawn`` they import it). Process ``i`` computes part
  ``(i, n_parts)`` of each song (``mer.features.extract.extract_stream_part``: its share of
  the (60 s piece, block family) tasks, each on the same audio crop as in one process);
  the leader joins the parts (``join_stream_parts``), which gives the very arrays
  ``mer.predict.song_features`` computes in one process, and sends them to the parent.
* Songs go in order, one song ahead of the parent: the pipe holds one song in flight (the
  leader blocks on its send), so memory is one song's features (5.7 MB per hour of
  ``spectral``) plus each process's 60 s piece, whatever the number of songs.

Errors: a song's ``MerError`` (``AudioError`` for a corrupt or too short file...) is pickled
back and raised by ``SongOutcome.result()`` in the parent, with the message the in-process
path gives; any other exception is re-raised there with the worker's traceback as a note.
A worker that dies (killed, out of memory) makes ``next_song`` raise ``FeatureWorkerDied``
(a ``MerError``: the CLI prints it and exits 2), naming the process, how it ended and the
song; nothing is written for that song.

Cleanup: ``close()`` (in a ``finally``) terminates (SIGTERM) and joins the leader, which
terminates and joins its helpers. A worker whose parent disappears (SIGKILL) finds its
pipe closed at its next send or receive and exits; on Linux each worker also asks the
kernel for SIGTERM when its parent dies. Ctrl-C reaches every process of the terminal's
process group: the workers exit quietly, the parent closes them and re-raises. While numba
compiles librosa into its cache (the very first run, ~25 s), ``mer.runtime.import_librosa``
defers SIGINT and SIGTERM to the end of the import, so the leader is never stopped halfway
through writing the cache; ``close()`` waits for it then.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait

from mer.errors import MerError

# Feature processes at most: each one decodes the whole file and holds its own 60 s piece
# and spectra (~150 MB); 2 is the 2-core machine the cold-start target is set on.
MAX_PARTS = 2
JOIN_TIMEOUT_S = 10.0  # a helper, after SIGTERM
# The leader, after SIGTERM: it holds the signal while it imports librosa, which takes ~25 s
# the first time (numba compiles librosa into its cache), and must not be killed then.
LEADER_JOIN_TIMEOUT_S = 120.0


class FeatureWorkerDied(MerError):
    """A feature worker process ended without sending a song's features."""


def worker_pays() -> bool:
    """Whether a worker saves time here: only while torch (and so most of the imports a
    prediction needs) is not imported yet, i.e. in a cold ``mer predict`` process."""
    return "torch" not in sys.modules


def start_method() -> str:
    """``fork`` on Linux while torch is not imported and no other thread runs (forking a
    process with running threads, such as torch's pools, is unsafe; macOS system
    libraries are not fork-safe, which is why Python spawns there), else ``spawn``."""
    import threading

    if (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and "torch" not in sys.modules and threading.active_count() == 1):
        return "fork"
    return "spawn"


def default_parts() -> int:
    """Feature processes: the cores this process may use, at most ``MAX_PARTS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(MAX_PARTS, cores))


@dataclass
class SongOutcome:
    """One song's features from the worker, or the error computing them raised."""
    features: dict | None
    n_samples: int
    error: BaseException | None = None

    def result(self):
        """(set name -> features, samples decoded), or raise the song's error."""
        if self.error is not None:
            raise self.error
        return self.features, self.n_samples


class FeatureWorker:
    """The parent's side: start at once, ``submit`` the songs, ``next_song(i)`` in order,
    ``close`` at the end (see the module docstring)."""

    def __init__(self, n_parts: int | None = None, method: str | None = None):
        self.method = method or start_method()
        self.n_parts = n_parts or default_parts()
        context = multiprocessing.get_context(self.method)
        for stream in (sys.stdout, sys.stderr):  # else a fork would print their buffers twice
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_leader_main, name="mer-predict-features",
                                        args=(child, self._conn, self.n_parts, self.method,
                                              os.getpid()))
        self._process.start()
        child.close()
        self._songs: list[str] = []
        self._next = 0
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def submit(self, songs, plan: dict[str, list[str]], chunk_frames: int) -> None:
        """Start computing ``songs`` (paths) with ``plan`` (ComParE mode -> feature sets)."""
        self._songs = [str(song) for song in songs]
        try:
            self._conn.send(("job", self._songs, plan, int(chunk_frames)))
        except OSError:  # it died already: next_song says how
            pass

    def next_song(self, index: int) -> SongOutcome:
        """The outcome for song ``index`` (0, 1, ... in order); ``FeatureWorkerDied`` if a
        worker ended without sending it."""
        if index != self._next:
            raise ValueError(f"songs are read in order: expected song {self._next}, not {index}")
        song = self._songs[index]
        while True:
            message = self._receive(song)
            kind = message[0]
            if kind == "song":
                self._next += 1
                return SongOutcome(message[1], message[2])
            if kind == "error":
                self._next += 1
                return SongOutcome(None, 0, message[1])
            if kind == "crash":
                self._next += 1
                error = message[1]
                error.add_note(f"raised in the feature worker (pid {self.pid}):\n{message[2]}")
                return SongOutcome(None, 0, error)
            if kind == "died":
                raise FeatureWorkerDied(_died_message(message[1], message[2], song,
                                                      len(self._songs) - index - 1))
            raise AssertionError(f"unknown message from the feature worker: {kind!r}")

    def _receive(self, song: str):
        ready = wait([self._conn, self._process.sentinel])
        if self._conn in ready:
            try:
                return self._conn.recv()
            except (EOFError, OSError):  # its end closed: it is gone
                pass
        self._process.join(JOIN_TIMEOUT_S)
        raise FeatureWorkerDied(_died_message(self.pid, self._process.exitcode, song,
                                              len(self._songs) - self._next - 1))

    def close(self) -> None:
        """Stop and join the workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._conn.close()
        if self._process.is_alive():
            self._process.terminate()  # the leader stops its helpers (see _leader_main)
        self._process.join(LEADER_JOIN_TIMEOUT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> FeatureWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _died_message(pid, exitcode, song: str, n_after: int) -> str:
    if exitcode is None:
        how = "stopped answering"
    elif exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else -exitcode
        how = f"was killed by signal {name}"
        if -exitcode == signal.SIGKILL:
            how += " (the kernel's out-of-memory killer sends it)"
    else:
        how = f"exited with status {exitcode}"
    after = f" or the {n_after} song(s) after it" if n_after else ""
    return (f"the feature worker process (pid {pid}) {how} while computing the features of "
            f"{song}; nothing was written for it{after}. Free some memory, or predict that "
            "song alone, and run again")


# -- the worker processes ---------------------------------------------------------------

def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel send SIGTERM to this process when its parent dies, so no
    worker outlives a killed ``mer predict`` (elsewhere: the closed pipe, at the next send)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # it died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def _leader_main(conn, parent_end, n_parts: int, method: str, parent_pid: int) -> None:
    parent_end.close()  # this process's copy of the parent's end: our exit must close the pipe
    helpers = []
    try:
        signal.signal(signal.SIGTERM, _terminated)
        if sys.platform.startswith("linux"):
            _die_with_parent(parent_pid)
        from mer.runtime import import_librosa
        import_librosa()  # the point: this runs while the parent imports torch
        import mer.predict  # noqa: F401  (song_feature_parts; no torch, no pandas)
        message = conn.recv()
        if message[0] != "job":
            return
        _, songs, plan, chunk_frames = message
        context = multiprocessing.get_context(method)
        held = [conn]  # ends a helper must not keep open
        for part in range(1, n_parts):
            receive, send = context.Pipe(duplex=False)
            helper = context.Process(target=_helper_main, name=f"mer-predict-features-{part}",
                                     args=(send, [*held, receive], songs, plan, chunk_frames,
                                           (part, n_parts), os.getpid()))
            helper.start()
            send.close()
            helpers.append((helper, receive))
            held.append(receive)
        for song in songs:
            results = [_song_part(song, plan, chunk_frames, (0, n_parts))]
            for helper, receive in helpers:
                result = _helper_result(helper, receive)
                if result is None:
                    _send(conn, ("died", helper.pid, helper.exitcode))
                    return
                results.append(result)
            _send(conn, _joined(plan, results))
    except (KeyboardInterrupt, SystemExit, BrokenPipeError, EOFError, ConnectionError):
        pass  # Ctrl-C, close(), or the parent is gone
    finally:
        for helper, _ in helpers:
            if helper.is_alive():
                helper.terminate()
        for helper, _ in helpers:
            helper.join(JOIN_TIMEOUT_S)


def _helper_main(send, inherited, songs, plan, chunk_frames: int, part: tuple[int, int],
                 leader_pid: int) -> None:
    for end in inherited:  # a fork's copies of the leader's ends
        end.close()
    try:
        signal.signal(signal.SIGTERM, _terminated)
        if sys.platform.startswith("linux"):
            _die_with_parent(leader_pid)
        for song in songs:
            _send(send, _song_part(song, plan, chunk_frames, part))
    except (KeyboardInterrupt, SystemExit, BrokenPipeError, EOFError, ConnectionError):
        pass


def _song_part(song: str, plan, chunk_frames: int, part: tuple[int, int]) -> tuple:
    from mer.predict import song_feature_parts
    try:
        return ("ok", song_feature_parts(song, plan, chunk_frames=chunk_frames, part=part))
    except MerError as error:
        return ("error", error)
    except Exception as error:  # noqa: BLE001  (re-raised in the parent, see the docstring)
        return ("crash", error, traceback.format_exc())


def _helper_result(helper, receive):
    """The helper's next result, or None if it ended without sending one."""
    ready = wait([receive, helper.sentinel])
    if receive in ready:
        with contextlib.suppress(EOFError, OSError):
            return receive.recv()
    helper.join(JOIN_TIMEOUT_S)
    return None


def _joined(plan, results: list[tuple]) -> tuple:
    """The song's message from every part's result: the first failure (in part order:
    every part meets the stream's errors at the same point), else the joined features."""
    for result in results:
        if result[0] != "ok":
            return result
    from mer.predict import join_song_features
    try:
        return ("song", *join_song_features(plan, [result[1] for result in results]))
    except Exception as error:  # noqa: BLE001
        return ("crash", error, traceback.format_exc())


def _send(conn, message: tuple) -> None:
    try:
        conn.send(message)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        if message[0] not in ("error", "crash"):
            raise
        # an exception that does not pickle: its type and text, and the traceback
        conn.send(("crash", RuntimeError(f"{type(message[1]).__name__}: {message[1]}"),
                   message[2] if len(message) > 2 else f"(not picklable: {error})"))
