"""Shared fixtures: an isolated workspace per test, a persistent model cache, offline hub."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "assets" / "samples"

# Offline, deterministic, and a model cache that survives between test sessions (built once).
os.environ.setdefault("STUDIO_CACHE", str(ROOT / ".studio-cache"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    monkeypatch.setenv("STUDIO_WORKSPACE", str(ws.root))
    return ws


@pytest.fixture
def manager(workspace):
    from studio.jobs import JobManager

    mgr = JobManager(workspace, grace=5.0)
    yield mgr
    # no worker outlives its test
    for job in mgr.store.list(states=("running", "queued")):
        mgr.cancel(job.id, wait=True)


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    from studio.models import TINY, resolve

    return resolve(TINY).path


@pytest.fixture(scope="session")
def embedded_model() -> Path:
    from studio.models import EMBEDDED, resolve

    return resolve(EMBEDDED).path


@pytest.fixture
def identity_data() -> Path:
    return SAMPLES / "identity_alpaca.jsonl"


def tiny_spec(data: Path | str, **training) -> dict:
    """A small, fast run on the tiny model (override any training key)."""
    base = {"max_steps": 6, "learning_rate": 5e-3, "batch_size": 4, "max_length": 128, "save_steps": 3}
    base.update(training)
    return {"model": {"name": "tiny-random-llama"}, "data": {"path": str(data)}, "method": "lora",
            "method_args": {"r": 8, "alpha": 16}, "stage": "sft", "training": base}


def train_inline(workspace, spec: dict, name: str = "run"):
    """Run the real training recipe in this process (no worker spawn); returns (run_dir, artifacts).

    Same code path a worker runs, minus the process: used where a test needs many short runs.
    """
    from studio.jobs.context import JobContext
    from studio.jobs.events import Events
    from studio.jobs.store import Job
    from studio.spec import build_spec
    from studio.train.runner import train

    run_dir = workspace.new_run_dir(name, "run")
    now = time.time()
    job = Job(id=f"inline-{run_dir.name}", kind="train", spec=spec, state="running", pool="compute",
              run_dir=str(run_dir), created_at=now, updated_at=now)
    ctx = JobContext(job=job, workspace=workspace, events=Events(run_dir))
    artifacts = train(build_spec(spec), ctx)
    return run_dir, artifacts
