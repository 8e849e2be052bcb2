"""Hypothesis profiles for the fault suite (tests/test_fuzz_*.py).

``HYPOTHESIS_PROFILE`` picks one: ``ci`` (default: 50 examples per property, the whole fuzz
suite well under a minute), ``long`` (2000 per property, for a night) or ``dev`` (10). A
deadline per example catches slow paths; ``watchdog`` ends the test process with a
traceback of every thread if one example hangs inside C code, where no deadline reaches.
"""

from __future__ import annotations

import faulthandler
import os
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

_COMMON = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture],
               derandomize=False, print_blob=True)
settings.register_profile("ci", max_examples=50, deadline=5000, **_COMMON)
settings.register_profile("dev", max_examples=10, deadline=5000, **_COMMON)
settings.register_profile("long", max_examples=2000, deadline=20000, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

HANG_SECONDS = 120  # far above any example's deadline


@contextmanager
def watchdog(seconds: float = HANG_SECONDS):
    """Kill the process (with tracebacks) if the body runs longer than ``seconds``."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def damage_strategy():
    """Random damage of a text or binary file: (kind, position, length, bytes) edits."""
    from hypothesis import strategies as st
    edit = st.tuples(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate_line",
                                      "drop_line", "cell", "value", "nest"]),
                     st.floats(0, 1), st.integers(0, 64),
                     st.one_of(st.binary(max_size=32),
                               st.sampled_from([b"", b"nan", b"NaN", b"inf", b"-inf", b"1e999",
                                                b"abc", b",", b"\"", b"\t", b"\n", b";",
                                                b"\xff\xfe", b"-2.77555756156e-18", b"0x10",
                                                b"2001-02-30", b"  ", b"\r\n", b"\x00"])))
    return st.lists(edit, min_size=1, max_size=4)


def apply_damage(data: bytes, edits) -> bytes:
    """Apply ``damage_strategy`` edits to ``data``."""
    for kind, where, length, payload in edits:
        at = int(where * len(data))
        if kind == "delete":
            data = data[:at] + data[at + length:]
        elif kind == "insert":
            data = data[:at] + payload + data[at:]
        elif kind == "replace":
            data = data[:at] + payload + data[at + max(len(payload), 1):]
        elif kind == "truncate":
            data = data[:at]
        elif kind in ("duplicate_line", "drop_line"):
            lines = data.split(b"\n")
            row = min(int(where * len(lines)), len(lines) - 1)
            lines[row:row + 1] = [lines[row]] * 2 if kind == "duplicate_line" else []
            data = b"\n".join(lines)
        elif kind == "value":  # replace a YAML value (after "key: ") of a random line
            lines = data.split(b"\n")
            keyed = [i for i, line in enumerate(lines) if b": " in line] or [0]
            row = keyed[min(int(where * len(keyed)), len(keyed) - 1)]
            key, _, _ = lines[row].partition(b": ")
            lines[row] = key + b": " + payload
            data = b"\n".join(lines)
        elif kind == "nest":  # deep nesting: brackets or indentation by the thousand
            data = data[:at] + (b"[" if length % 2 else b"{") * (length * 16) + data[at:]
        else:  # replace one CSV cell of a random line by the payload
            lines = data.split(b"\n")
            row = min(int(where * len(lines)), len(lines) - 1)
            cells = lines[row].split(b",")
            cells[min(length, len(cells) - 1)] = payload
            lines[row] = b",".join(cells)
            data = b"\n".join(lines)
    return data


def innermost_mer_function(error: BaseException) -> str:
    """``module.function`` of the innermost frame in mer's own code where ``error`` passed."""
    import traceback
    name = "?"
    for frame in traceback.extract_tb(error.__traceback__):
        if "/src/mer/" in frame.filename.replace("\\", "/"):
            module = frame.filename.replace("\\", "/").split("/src/")[-1][:-3].replace("/", ".")
            name = f"{module}.{frame.name}"
    return name


def only_mer_errors(call, known_bugs=frozenset()):
    """Run ``call()``; a ``MerError`` is fine, any other exception fails the example, unless
    its innermost mer function and type match an entry (function, exception class) of
    ``known_bugs``: bugs found by
    this suite in code another branch owns, each reproduced by a strict xfail test so that
    the entry is removed when the bug is fixed."""
    from mer.errors import MerError
    try:
        with watchdog():
            return call()
    except MerError:
        return None
    except Exception as error:  # noqa: BLE001 (the property under test)
        where = innermost_mer_function(error)
        if any(where == function and isinstance(error, kind) for function, kind in known_bugs):
            return None
        raise
