"""What the quick start does, as plain functions (the flow's handlers call these; tests can too).

- `use_sample` / `use_file`: read and check a data file, save it as a dataset in the workspace.
- `recent_runs`: training runs, newest first, for "Open a recent run".
- `start_run`: submit the planned spec through `studio.runs.start_training` (the Train tab's path).
- `start_compare`: one serve job for the base model with the run's adapter (`studio.infer.compare`).
- `suggested_question`: the first user turn of a held-out row; `run_question`: the same for a run
  trained before (from the held-out rows it saved, else its data's first row).
- `error_line`: a failed run's recorded error, as one readable line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ...data import store
from ...data.prepare import load_rows
from ...errors import StudioError
from ...infer import compare
from ...infer.base import BASE
from ...infer.serve import server_info
from ...recipe.run import HELDOUT_FILE
from ...runs import start_training

SAMPLE = Path(__file__).resolve().parents[3] / "assets" / "samples" / "identity_alpaca.jsonl"
SAMPLE_NAME = "orbiton-sample"
PREVIEW_ROWS = 5


@dataclass
class Dataset:
    name: str  # the saved dataset's name (what the spec's data.path holds)
    rows: list[dict]
    format: str


def save_file(workspace, path: str | Path, name: str | None = None) -> Dataset:
    """Check a file (every row-level error is reported) and save it as the next version of a dataset."""
    loaded = load_rows(str(path), workspace_root=workspace.root)
    name = name or _dataset_name(Path(path))
    store.save_dataset(workspace.datasets, name, loaded.table.rows, loaded.format, note="quick start")
    return Dataset(name, loaded.table.rows, loaded.format)


def use_sample(workspace) -> Dataset:
    if not SAMPLE.is_file():
        raise StudioError(key="quickstart.sample_missing", path=str(SAMPLE))
    return save_file(workspace, SAMPLE, SAMPLE_NAME)


def _dataset_name(path: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in path.stem).strip("-_") or "my-data"
    return stem[:60]


def recent_runs(manager, limit: int = 10) -> list:
    return manager.list(kind="train", limit=limit)


def start_run(manager, spec, owner: str | None = None, key: str | None = None):
    return start_training(manager, spec, owner=owner, key=key)


def adapter_of(job) -> str | None:
    folder = (job.artifacts or {}).get("adapter")
    return folder if folder and Path(folder).is_dir() else None


def serve_name(job) -> str:
    return next(iter(compare.adapter_names([adapter_of(job)])))


def start_compare(manager, job, owner: str | None = None):
    """Start (or keep) the engine serving the run's base model with its adapter; returns the serve job."""
    folder = adapter_of(job)
    if folder is None:
        raise StudioError(key="quickstart.no_adapter", run=Path(job.run_dir).name)
    model = job.spec.get("model", {}).get("name")
    name = serve_name(job)
    for serve in compare.serve_jobs(manager):  # already serving this run: keep it
        if serve.spec.get("model") == model and serve.spec.get("adapters", {}).get(name) == folder:
            return serve
    engine = os.environ.get("STUDIO_ENGINE", "auto")
    return compare.start_engines(manager, model, {name: folder}, [], engine, owner=owner)[0]


def pane_values(serve, job) -> tuple[str, str]:
    """The compare panes' choices: the base model, and the base with the run's adapter."""
    return f"{serve.id}{compare.SEP}{BASE}", f"{serve.id}{compare.SEP}{serve_name(job)}"


def serving(manager, serve_id: str) -> bool:
    job = manager.get(serve_id)
    return job.state == "running" and server_info(job.run_dir) is not None


def suggested_question(held_out: list) -> str:
    for row in held_out or []:
        question = _first_user_turn(row)
        if question:
            return question
    return ""


def run_question(job, workspace_root) -> str:
    """A question for a finished run: one of the rows it held out of training (heldout.jsonl in its
    folder), else the first row of its data; "" when neither can be read."""
    held = Path(job.run_dir) / HELDOUT_FILE
    if held.is_file():
        try:
            rows = [json.loads(line) for line in held.read_text(encoding="utf-8").splitlines()[:20] if line.strip()]
        except (OSError, ValueError):
            rows = []
        question = suggested_question(rows)
        if question:
            return question
    data = (job.spec or {}).get("data", {}).get("path")
    if not data:
        return ""
    try:
        return suggested_question(load_rows(str(data), workspace_root=workspace_root).table.rows[:20])
    except Exception:  # noqa: BLE001 - the data may be gone or changed since; the default question stays
        return ""


def error_line(error: str | None, limit: int = 400) -> str:
    """The recorded error's first non-empty line, shortened (a traceback's last line when it is one)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    if not lines:
        return "—"
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _first_user_turn(row) -> str:
    if isinstance(row, str):
        return row.strip()
    if not isinstance(row, dict):
        return ""
    if isinstance(row.get("prompt"), list):  # a saved held-out row: the prompt as chat messages
        return _first_user_turn({"messages": row["prompt"]})
    for key in ("question", "instruction", "prompt", "query"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            extra = row.get("input") if key == "instruction" else None
            return value.strip() + (f"\n\n{extra.strip()}" if isinstance(extra, str) and extra.strip() else "")
    for turns in (row.get("messages"), row.get("conversations")):
        for turn in turns or []:
            if isinstance(turn, dict) and turn.get("role", turn.get("from")) in ("user", "human"):
                return str(turn.get("content", turn.get("value", ""))).strip()
    return ""
