"""Files a worker writes and the UI/CLI read: progress (atomic JSON), metrics (JSON lines), log, exit.

The page never talks to the worker: it polls these files and the job store, so a closed tab or a
restarted server changes nothing for the job.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..atomic import append_jsonl, read_jsonl, write_json
from .procs import LOG_NAME

PROGRESS = "progress.json"
METRICS = "metrics.jsonl"
EXIT = "exit.json"


class Events:
    """Writer side, used inside a worker."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._last_write = 0.0
        self._last: dict = {}

    def progress(self, fraction: float | None, message: str, force: bool = False, **extra) -> None:
        now = time.time()
        state = {"fraction": None if fraction is None else max(0.0, min(1.0, float(fraction))),
                 "message": message, "time": now, **extra}
        self._last = state
        if force or now - self._last_write >= 0.5:
            write_json(self.run_dir / PROGRESS, state)
            self._last_write = now

    def flush(self) -> None:
        if self._last:
            write_json(self.run_dir / PROGRESS, self._last)

    def metric(self, row: dict) -> None:
        append_jsonl(self.run_dir / METRICS, {"time": time.time(), **row})

    def log(self, message: str) -> None:
        print(f"[studio {time.strftime('%H:%M:%S')}] {message}", flush=True)


def read_progress(run_dir: str | Path) -> dict:
    try:
        return json.loads((Path(run_dir) / PROGRESS).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def read_metrics(run_dir: str | Path) -> list[dict]:
    return read_jsonl(Path(run_dir) / METRICS)


def read_exit(run_dir: str | Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / EXIT).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def tail_log(run_dir: str | Path, max_bytes: int = 20000) -> str:
    path = Path(run_dir) / LOG_NAME
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    # tqdm bars redraw with \r: keep only the last redraw of each line
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines())
