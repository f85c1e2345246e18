"""The job manager with real worker processes (the `sleep` diagnostic kind: no model, real processes)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from studio.errors import StudioError
from studio.jobs import JobManager
from studio.jobs import procs
from studio.jobs.events import read_exit


def wait_state(manager, job_id, states, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = manager.get(job_id)
        if job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"{job_id} stuck in {manager.get(job_id).state}, wanted {states}")


def wait_progress(job, at_least: int, timeout=60.0):
    marker = Path(job.run_dir) / "counter.json"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if marker.exists() and json.loads(marker.read_text())["done"] >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("the worker made no progress")


def test_job_runs_in_a_detached_worker_and_succeeds(manager):
    job = manager.submit("sleep", {"steps": 3, "step_seconds": 0.05})
    assert manager.store.get(job.id) is not None  # recorded before anything else
    done = manager.wait(job.id, timeout=60)
    assert done.state == "succeeded", done.error
    assert done.exit_code == 0
    assert Path(done.artifacts["result"]).read_text() == "counted to 3\n"
    assert read_exit(done.run_dir)["state"] == "succeeded"
    # the worker led its own session: not a child of this process's group
    assert done.pid != os.getpid()


def test_queue_runs_one_compute_job_at_a_time_in_order(manager):
    jobs = [manager.submit("sleep", {"steps": 4, "step_seconds": 0.1}) for _ in range(3)]
    states = [manager.get(j.id).state for j in jobs]
    assert states == ["running", "queued", "queued"]
    finished = [manager.wait(j.id, timeout=90) for j in jobs]
    assert [j.state for j in finished] == ["succeeded"] * 3
    starts = [j.started_at for j in finished]
    ends = [j.ended_at for j in finished]
    assert starts == sorted(starts)
    # never two at once: each started after the previous one ended
    assert starts[1] >= ends[0] - 0.05 and starts[2] >= ends[1] - 0.05


def test_queue_moves_on_without_any_reader(manager):
    """The finishing worker starts the next queued job itself (no UI, no CLI polling)."""
    first = manager.submit("sleep", {"steps": 2, "step_seconds": 0.1})
    second = manager.submit("sleep", {"steps": 1, "step_seconds": 0.05})
    deadline = time.time() + 60
    while time.time() < deadline:  # read the store directly: no tick, no reconcile
        if manager.store.get(second.id).state == "succeeded":
            break
        time.sleep(0.2)
    assert manager.store.get(first.id).state == "succeeded"
    assert manager.store.get(second.id).state == "succeeded"


def test_submit_is_idempotent_by_key(manager):
    a = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01}, key="click-123")
    b = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01}, key="click-123")
    assert a.id == b.id
    assert len(manager.store.list()) == 1


def test_cancel_running_job_stops_the_whole_process_group(manager):
    job = manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05})
    running = wait_state(manager, job.id, ("running",))
    wait_progress(running, 2)
    pid = manager.get(job.id).pid
    cancelled = manager.cancel(job.id, wait=True)
    assert cancelled.state == "cancelled"
    assert not procs.group_members(pid)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_cancel_queued_job(manager):
    blocker = manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05})
    queued = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01})
    assert manager.get(queued.id).state == "queued"
    assert manager.cancel(queued.id).state == "cancelled"
    manager.cancel(blocker.id, wait=True)
    assert manager.get(queued.id).started_at is None


def test_worker_ignoring_sigterm_is_killed_after_grace(workspace):
    manager = JobManager(workspace, grace=1.0)
    job = manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05})
    running = wait_state(manager, job.id, ("running",))
    wait_progress(running, 1)
    pid = manager.get(job.id).pid
    os.killpg(pid, signal.SIGSTOP)  # a stopped worker cannot handle SIGTERM
    try:
        done = manager.cancel(job.id, wait=True)
    finally:
        try:
            os.killpg(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert done.state == "cancelled"
    assert not procs.group_members(pid)


def test_sigkilled_worker_becomes_interrupted_and_resumes(manager):
    job = manager.submit("sleep", {"steps": 30, "step_seconds": 0.05})
    running = wait_state(manager, job.id, ("running",))
    wait_progress(running, 5)
    os.kill(manager.get(job.id).pid, signal.SIGKILL)
    # no restart, no tick: a plain read reconciles within seconds
    interrupted = wait_state(manager, job.id, ("interrupted",), timeout=10)
    assert "resume" in interrupted.error
    done_before = json.loads((Path(job.run_dir) / "counter.json").read_text())["done"]
    assert 5 <= done_before < 30
    resumed = manager.resume(job.id)
    assert resumed.state in ("queued", "running")
    final = manager.wait(job.id, timeout=60)
    assert final.state == "succeeded", final.error
    assert final.attempts == 2
    log = (Path(job.run_dir) / "worker.log").read_text()
    assert f"counting from {done_before} to 30" in log


def test_studio_restart_while_a_job_runs_loses_nothing(workspace):
    first = JobManager(workspace)
    job = first.submit("sleep", {"steps": 20, "step_seconds": 0.1})
    queued = first.submit("sleep", {"steps": 1, "step_seconds": 0.01})
    wait_state(first, job.id, ("running",))
    del first  # the studio process goes away; the worker does not depend on it
    second = JobManager(workspace)  # a new studio opens the same workspace
    assert second.get(job.id).state == "running"
    assert second.get(queued.id).state == "queued"
    assert second.wait(job.id, timeout=60).state == "succeeded"
    assert second.wait(queued.id, timeout=60).state == "succeeded"


def test_dead_worker_with_exit_record_takes_that_result(manager):
    """If the worker wrote exit.json but died before updating the store, the record is applied."""
    job = manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05})
    running = wait_state(manager, job.id, ("running",))
    wait_progress(running, 1)
    pid = manager.get(job.id).pid
    os.killpg(pid, signal.SIGKILL)
    from studio.atomic import write_json

    write_json(Path(job.run_dir) / "exit.json", {"state": "failed", "exit_code": 3, "error": "boom",
                                                 "artifacts": {}, "ended_at": time.time(), "attempt": 1})
    done = wait_state(manager, job.id, ("failed",), timeout=10)
    assert done.error == "boom" and done.exit_code == 3


def test_pid_reuse_is_not_mistaken_for_a_live_worker():
    me = os.getpid()
    assert procs.alive(me, procs.start_time(me))
    assert not procs.alive(me, procs.start_time(me) - 1000)  # same pid, different process


def test_stale_running_record_without_pid_is_queued_again(manager):
    """Only an older version could leave "running" without a pid; such a claim goes back to the queue."""
    job = manager.submit("sleep", {"steps": 1}, start=False)
    manager.store.transition(job.id, None, state="running", started_at=time.time() - 3600, pid=None, attempts=1)
    again = manager.get(job.id)
    assert again.state == "queued" and again.attempts == 0
    assert manager.wait(job.id, timeout=60).state == "succeeded"


def test_unknown_job_and_bad_resume_are_clear_errors(manager):
    with pytest.raises(StudioError, match="No job with id 'nope'"):
        manager.get("nope")
    job = manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05})
    with pytest.raises(StudioError, match="only interrupted, failed or cancelled jobs resume"):
        manager.resume(job.id)
    manager.cancel(job.id, wait=True)


def test_secrets_never_reach_the_job_record(manager, workspace):
    job = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01}, secrets={"api_key": "sk-SECRET-123"})
    manager.wait(job.id, timeout=60)
    blobs = [Path(workspace.db_path).read_bytes()]
    blobs += [p.read_bytes() for p in Path(job.run_dir).rglob("*") if p.is_file()]
    for wal in Path(workspace.root).glob("studio.db*"):
        blobs.append(wal.read_bytes())
    assert not any(b"sk-SECRET-123" in blob for blob in blobs)
    assert not (Path(workspace.root) / ".secrets" / job.id).exists()  # dropped when the job ended
