"""Checkpoints that are only trusted once complete.

transformers' `get_last_checkpoint` takes the highest-numbered folder even if its save was cut
off. We mark a checkpoint complete (a `.complete` file written last, atomically) only after the
Trainer reports the save done, and resume from the newest marked one.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..atomic import write_text

MARKER = ".complete"
_CKPT = re.compile(r"^checkpoint-(\d+)$")
REQUIRED = ("trainer_state.json",)


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not Path(folder).is_dir():
        return []
    found = [(int(m.group(1)), p) for p in Path(folder).iterdir() if p.is_dir() and (m := _CKPT.match(p.name))]
    return sorted(found)


def mark_complete(path: Path) -> bool:
    if all((path / name).exists() for name in REQUIRED):
        write_text(path / MARKER, "complete\n")
        return True
    return False


def latest_complete(folder: Path) -> Path | None:
    for _step, path in reversed(checkpoints(folder)):
        if (path / MARKER).is_file():
            return path
    return None
