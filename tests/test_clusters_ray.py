"""Studio jobs on a real Ray cluster: a one-node Ray head started (and stopped) by this module on 127.0.0.1.

Submitted from the CLI and from the Train tab's start handler, a training job runs there with 2 Ray Train
workers (gloo DDP on the CPU); its state, log and loss curve come back into the run folder; cancel stops
it on Ray; a studio process SIGKILLed mid-job is replaced by a new one that still tracks the job to
`succeeded`. Slow: Ray and two training processes on two shared cores take minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import tiny_spec
from raycluster import start_head
from studio.clusters import ray as ray_backend
from studio.clusters import registry
from studio.jobs import remote

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    head = start_head(tmp_path_factory.mktemp("ray"))
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture
def on_ray(workspace, ray_head):
    registry.add(workspace.root, registry.Cluster(name="local", kind="ray", address=ray_head.address))
    return ray_head


def ray_spec(identity_data, processes: int = 2, **training) -> dict:
    raw = tiny_spec(identity_data, **{"max_steps": 6, "batch_size": 2, "max_length": 64, "save_steps": 100,
                                      **training})
    raw["resources"] = {"device": "cpu", "processes": processes}
    return raw


def ray_status(head, job) -> str:
    """Ray's own word on the job (MISSING until the submission, written to the run folder first, lands)."""
    handle = remote.read_handle(job.run_dir)["handle"]
    try:
        return str(ray_backend.client(head.address).get_job_status(handle).value)
    except RuntimeError as exc:
        if "does not exist" in str(exc):
            return "MISSING"
        raise


def _studio(workspace, *args, **kw):
    return subprocess.run([sys.executable, "-m", "studio", "--workspace", str(workspace.root), *args],
                          capture_output=True, text=True, timeout=120, **kw)


def check_trained_on_two_workers(job, steps: int) -> None:
    run_dir = Path(job.run_dir)
    assert job.state == "succeeded", (job.error, (run_dir / "worker.log").read_text()[-3000:])
    losses = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert [r["step"] for r in losses] == list(range(1, steps + 1))  # the loss curve, one point per step
    ranks = [json.loads((run_dir / "devices" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [(d["rank"], d["world_size"]) for d in ranks] == [(0, 2), (1, 2)]
    log = (run_dir / "worker.log").read_text()  # Ray's copy of the job's output, streamed back
    assert "through Ray Train" in log and "RayTrainWorker" in log and f"job {job.id} succeeded" in log
    assert (Path(job.artifacts["adapter"]) / "adapter_model.safetensors").is_file()


def test_cli_job_survives_a_killed_studio(workspace, on_ray, identity_data, tmp_path):
    """`studio train RUN.yaml --cluster local` acts as the studio; it is SIGKILLed while the job runs on Ray;
    a new studio process finds the job (running, then succeeded) from the record and Ray."""
    from studio.jobs import JobManager

    spec = tmp_path / "run.yaml"
    spec.write_text(yaml.safe_dump(ray_spec(identity_data, max_steps=8)))
    studio = subprocess.Popen([sys.executable, "-m", "studio", "--workspace", str(workspace.root), "train",
                               str(spec), "--cluster", "local", "--name", "cli-run"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    manager = JobManager(workspace)
    deadline = time.time() + 300
    job = None
    while time.time() < deadline:
        jobs = manager.store.list()
        job = jobs[0] if jobs else None
        if job and remote.read_handle(job.run_dir) and ray_status(on_ray, job) == "RUNNING":
            break
        assert studio.poll() is None, studio.stdout.read().decode()[-3000:]
        time.sleep(1.0)
    assert job is not None and job.pool == "cluster:local"
    os.killpg(studio.pid, signal.SIGKILL)
    studio.wait(timeout=30)
    assert studio.returncode == -signal.SIGKILL
    assert ray_status(on_ray, job) in ("RUNNING", "SUCCEEDED")  # the job did not die with the studio

    states = []
    deadline = time.time() + 600
    while time.time() < deadline:  # the restarted studio: a new process each time, reading the record and Ray
        shown = _studio(workspace, "jobs", "show", job.id)
        assert shown.returncode == 0, shown.stderr
        states.append(json.loads(shown.stdout)["state"])
        if states[-1] != "running":
            break
        time.sleep(3.0)
    assert states[0] == "running" and states[-1] == "succeeded", states
    assert ray_status(on_ray, job) == "SUCCEEDED"
    check_trained_on_two_workers(manager.get(job.id), 8)


def test_ui_start_handler_runs_the_job_on_ray(workspace, manager, on_ray, identity_data):
    """The Train page's own start handler, with the form's resources.cluster set to the Ray cluster, and
    the page's job panel showing the run's state, loss curve and log."""
    from studio.ui import job_panel
    from studio.ui.app import build_app

    demo = build_app(workspace, manager, lang="en")
    start = next(f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "on_start"
                 and any(c.elem_id == "resources-cluster" for c in f.inputs))
    wanted = {"train-dataset": str(identity_data), "run-name": "ui-run",
              "training-max_steps": 6, "training-batch_size": 2, "training-max_length": 64,
              "training-save_steps": 100, "training-learning_rate": 5e-3, "resources-device": "cpu",
              "resources-processes": 2, "resources-cluster": "local"}
    assert {c.elem_id for c in start.inputs} >= set(wanted)
    # the Method page's part of the spec reaches the Train page through its channel (the second input)
    method_part = {"model": {"name": "tiny-random-llama"}, "method": "lora", "method_args": {"r": 8}}
    values = [wanted.get(c.elem_id, c.value) for c in start.inputs[2:]]
    job_id, message, _ = start.fn(None, "ui-key", method_part, *values)
    assert "⚠️" not in message, message
    job = manager.get(job_id)
    assert remote.target(job) == "local" and job.pool == "cluster:local"
    done = manager.wait(job.id, poll=2.0, timeout=600)
    check_trained_on_two_workers(done, 6)
    out = job_panel.view(demo.studio, job_panel.Config(kinds=("train",), curves=("loss",)), job.id)
    progress, loss_frame, log = out[1], out[2], out[3]
    assert list(loss_frame["step"]) == [1, 2, 3, 4, 5, 6] and "succeeded" in log and progress


def test_cancel_stops_the_job_on_ray(workspace, manager, on_ray, identity_data):
    from studio.jobs.events import read_progress
    from studio.runs import start_training
    from studio.spec import build_spec

    raw = ray_spec(identity_data, processes=1, max_steps=2000)
    raw["resources"]["cluster"] = "local"
    job = start_training(manager, build_spec(raw))
    deadline = time.time() + 300
    while time.time() < deadline and not read_progress(job.run_dir).get("step"):
        assert manager.get(job.id).state == "running", manager.get(job.id).error
        time.sleep(1.0)
    assert read_progress(job.run_dir).get("step"), "training never started"
    cancelled = manager.cancel(job.id, wait=True)
    assert cancelled.state == "cancelled", cancelled.error
    assert ray_status(on_ray, cancelled) == "STOPPED"
    step = read_progress(job.run_dir).get("step", 0)
    time.sleep(5)
    assert read_progress(job.run_dir).get("step", 0) == step < 2000  # nothing trains on after the cancel
