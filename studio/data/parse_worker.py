"""Parsing user files in a separate process with a memory and a time limit.

`read(path)` forks a child from a small fork server (started once, with pandas and the readers already
imported, so a read costs milliseconds, not an interpreter start-up); the child limits its own address
space (RLIMIT_AS) and runs `readers.read_here`. The parent waits at most the time limit, then kills it.
Whatever happens in the child (MemoryError, a crash in a C parser, a timeout) the parent gets a
`DataError` with one finding, and its own memory never holds more than the parsed rows.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from .findings import DataError

_inside = False
_ctx_lock = threading.Lock()
_ctx = None


def inside() -> bool:
    """True in a parsing worker (nested reads, such as a LLaMA-Factory folder's file, run in place)."""
    return _inside


def _context():
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["studio.data.readers", "studio.data.llamafactory", "pandas", "openpyxl",
                                        "pyarrow.parquet"])
            _ctx = ctx
        return _ctx


def _child(conn, target, path: str, lim) -> None:
    global _inside
    _inside = True
    memory_mb = lim.memory_mb
    try:
        from . import limits as shared

        shared.FIXED = lim
        import resource

        import psutil

        budget = psutil.Process().memory_info().vms + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
        result = ("ok", target(path))
    except DataError as exc:
        result = ("findings", exc.findings)
    except MemoryError:
        result = ("memory", None)
    except RecursionError:
        result = ("deep", None)
    except BaseException as exc:  # noqa: BLE001 - the parent reports it as one finding
        result = ("crash", f"{type(exc).__name__}: {exc}"[:500])
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", None))
    conn.close()


def read(path: str | Path, target):
    """`target(path)` (the readers' `read_here`, passed in: this module runs it, it does not know it) in a
    limited child process; its result or one finding."""
    from .limits import finding as _finding
    from .limits import limits

    lim = limits()
    name = Path(str(path)).name
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, target, str(path), lim), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(lim.seconds):
            raise DataError([_finding("too_slow", name, seconds=f"{lim.seconds:g}")])
        try:
            status, value = parent.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise DataError([_finding("worker_died", name, limit=lim.memory_mb,
                                      code=proc.exitcode if proc.exitcode is not None else "?")]) from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(10)
    if status == "ok":
        return value
    if status == "findings":
        raise DataError(value)
    if status == "memory":
        raise DataError([_finding("too_much_memory", name, limit=lim.memory_mb)])
    if status == "deep":
        raise DataError([_finding("too_deep", name)])
    raise DataError([_finding("crashed", name, detail=value)])


