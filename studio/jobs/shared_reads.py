"""One read of a job's files for every tab that polls them (job panels, the job drawer).

Fifty open tabs following one running job each tick every 1.5 s; reading and parsing its log and
metrics.jsonl once per tab was fifty identical reads per tick. Here a read is shared while the file is
unchanged: it is keyed by the file's (inode, size, mtime) as the worker leaves it, so the first tick after
the worker appends a line (the size grows) or replaces progress.json (a new inode) reads again, and every
other tick of every tab gets the value already read. At most `SIZE` reads are kept (least recently used
dropped first), so the cache cannot grow with the number of jobs shown.

What these functions return is shared between callers: read it, never modify it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .events import METRICS, PROGRESS, read_metrics, read_progress, tail_log
from .procs import LOG_NAME

SIZE = 64  # shared reads kept: several files of each job that tabs show at the same time

_lock = threading.Lock()
_reads: OrderedDict[tuple, tuple[tuple | None, Any]] = OrderedDict()


def _signature(path: Path) -> tuple | None:
    """What changes when a worker writes the file: appends grow the size, an atomic replace makes a new inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def shared(key: tuple, path: Path, read: Callable[[], Any]) -> Any:
    """`read()`, or what it returned last time for `key` while `path` has not changed since."""
    signature = _signature(path)
    with _lock:
        hit = _reads.get(key)
        if hit is not None and hit[0] == signature:
            _reads.move_to_end(key)
            return hit[1]
    # the signature is taken before reading: a write during the read leaves a newer value under an
    # older signature, and the next call (which sees the new signature) reads again
    value = read()
    with _lock:
        _reads[key] = (signature, value)
        _reads.move_to_end(key)
        while len(_reads) > SIZE:
            _reads.popitem(last=False)
    return value


def metrics(run_dir: str | Path) -> list[dict]:
    """`events.read_metrics`, shared (do not modify the rows)."""
    path = Path(run_dir) / METRICS
    return shared(("metrics", str(path)), path, lambda: read_metrics(run_dir))


def progress(run_dir: str | Path) -> dict:
    """`events.read_progress`, shared (do not modify the dict)."""
    path = Path(run_dir) / PROGRESS
    return shared(("progress", str(path)), path, lambda: read_progress(run_dir))


def log_tail(run_dir: str | Path, max_bytes: int) -> str:
    """`events.tail_log`, shared."""
    path = Path(run_dir) / LOG_NAME
    return shared(("log", str(path), max_bytes), path, lambda: tail_log(run_dir, max_bytes))


def held() -> int:
    """How many reads are kept (at most `SIZE`)."""
    with _lock:
        return len(_reads)


def clear() -> None:
    """Forget every shared read (tests)."""
    with _lock:
        _reads.clear()
