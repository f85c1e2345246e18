"""Build-once folders in the model cache, safe against two processes building at the same time."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..atomic import atomic_dir
from ..workspace import cache_root

READY = ".ready"


def cache_dir(name: str) -> Path:
    return cache_root() / "models" / name


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_once(name: str, build: Callable[[Path], None]) -> Path:
    """Return the cached folder `name`, calling `build(tmp_dir)` the first time.

    The folder appears complete or not at all (atomic rename, then a `.ready` marker), so an
    interrupted conversion is simply redone on the next call.
    """
    target = cache_dir(name)
    if (target / READY).is_file():
        return target
    with _locked(target):
        if (target / READY).is_file():
            return target
        with atomic_dir(target, replace=True) as tmp:
            build(tmp)
            (tmp / READY).write_text("ok\n")
    return target


def is_built(name: str) -> bool:
    return (cache_dir(name) / READY).is_file()


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
