"""The queue never stalls: any CLI read moves it, and a claim cannot be torn from its spawn (issue 14, item 2).

Real processes throughout: workers are SIGKILLed, a submitter is SIGKILLed between claiming a job and
starting its worker, and only the `studio` command runs afterwards (no studio server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from studio.jobs import procs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def studio(workspace, *args, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT, STUDIO_WORKSPACE=str(workspace.root))
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def wait_pid(manager, job_id, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = manager.store.get(job_id)
        if job.pid and procs.alive(job.pid, job.pid_started):
            return job
        time.sleep(0.1)
    raise AssertionError(f"no worker for {job_id}")


def test_killed_worker_without_a_server_next_cli_read_starts_the_next_job(manager, workspace):
    first = manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05})
    second = manager.submit("sleep", {"steps": 2, "step_seconds": 0.05})
    first = wait_pid(manager, first.id)
    assert manager.store.get(second.id).state == "queued"
    os.killpg(first.pid, signal.SIGKILL)  # no exit record, no scheduling by the dying worker
    deadline = time.time() + 10
    while time.time() < deadline and procs.alive(first.pid, first.pid_started):
        time.sleep(0.05)
    assert manager.store.get(second.id).state == "queued"  # nothing moved it yet
    out = studio(workspace, "jobs", "list")
    assert out.returncode == 0, out.stderr
    assert manager.store.get(first.id).state == "interrupted"
    assert manager.store.get(second.id).state in ("running", "succeeded")  # started by `jobs list`
    assert manager.wait(second.id, timeout=60).state == "succeeded"


def test_show_and_cancel_move_the_queue_too(manager, workspace):
    for command in (("jobs", "show"), ("jobs", "cancel", "--no-wait")):
        blocker = wait_pid(manager, manager.submit("sleep", {"steps": 1000, "step_seconds": 0.05}).id)
        waiting = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01})
        os.killpg(blocker.pid, signal.SIGKILL)
        while procs.alive(blocker.pid, blocker.pid_started):
            time.sleep(0.05)
        target = blocker.id
        assert studio(workspace, *command, target).returncode == 0
        assert manager.store.get(waiting.id).state in ("running", "succeeded"), command
        assert manager.wait(waiting.id, timeout=60).state == "succeeded"


def test_submitter_killed_between_claim_and_spawn_never_leaves_a_pidless_running_job(manager, workspace):
    job = manager.submit("sleep", {"steps": 2, "step_seconds": 0.05}, start=False)
    # a real process claims the job and is SIGKILLed inside the claim, right where it would start the worker
    script = textwrap.dedent(f"""
        import os, signal
        from studio.jobs import JobManager
        from studio.workspace import Workspace
        m = JobManager(Workspace.open({str(workspace.root)!r}))
        def die(job):
            os.kill(os.getpid(), signal.SIGKILL)
        m.store.claim_and_spawn("compute", 1, die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert proc.returncode == -signal.SIGKILL
    record = manager.store.get(job.id)
    assert record.state == "queued" and record.pid is None  # the claim rolled back with its submitter
    start = time.time()
    assert studio(workspace, "jobs", "list").returncode == 0
    record = manager.store.get(job.id)
    assert record.state in ("running", "succeeded") and record.pid, record
    assert time.time() - start < 30
    assert manager.wait(job.id, timeout=60).state == "succeeded"


def test_a_worker_whose_claim_was_rolled_back_does_not_run(manager, workspace):
    """Spawned, then its submitter died before the commit: the worker finds the job not claimed for it."""
    job = manager.submit("sleep", {"steps": 2, "step_seconds": 0.05}, start=False)
    pid, _ = procs.spawn_worker(job.id, manager.workspace.jobs / job.id, workspace.root)
    deadline = time.time() + 60
    while time.time() < deadline and procs.alive(pid, None):
        time.sleep(0.1)
    assert manager.store.get(job.id).state == "queued"
    assert "not waiting for this worker" in (manager.workspace.jobs / job.id / procs.LOG_NAME).read_text()


def test_snapshot_is_shared_and_read_once_per_interval(manager, monkeypatch):
    """Fifty tabs polling the status bar cost one SQLite read per interval, not fifty."""
    from studio.jobs import JobManager

    job = manager.submit("sleep", {"steps": 1}, start=False)
    reads = []
    real = JobManager.list

    def counting(self, *a, **k):
        reads.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(JobManager, "list", counting)
    other = JobManager(manager.workspace)  # another tab's handler: same workspace, same cache
    snaps = [m.snapshot(max_age=30) for m in [manager, other] * 25]
    assert len(reads) == 1 and all(s is snaps[0] for s in snaps)
    assert snaps[0].queued == 1 and snaps[0].find(job.id).state == "queued"
    manager.cancel(job.id)  # a change made here shows at once
    assert manager.snapshot(max_age=30).find(job.id).state == "cancelled" and len(reads) == 2
