"""The one job manager every tab and the CLI share.

It is stateless beyond the job store: any process (the studio server, a CLI command, a worker that
just finished) can call `tick()` to reconcile records with reality and start queued jobs, so the
queue keeps moving with no browser and no server running.
"""

from __future__ import annotations

import getpass
import os
import signal
import time
from pathlib import Path
from typing import Callable

from ..atomic import write_yaml
from ..errors import StudioError
from ..workspace import Workspace
from . import events, kinds, procs
from . import remote  # cluster hook: jobs whose spec names a cluster run there (studio/clusters)
from .secrets import drop_secrets, store_secrets
from .specs import validated
from .store import ACTIVE, TERMINAL, Job, JobStore, new_job_id

DEFAULT_LIMITS = {"compute": 1, "serve": 2}
START_TIMEOUT = 5.0  # a running record without a worker pid (written by an older version) is stale after this


class JobManager:
    def __init__(self, workspace: Workspace, limits: dict[str, int] | None = None, grace: float = 15.0):
        self.workspace = workspace
        self.store = JobStore(workspace.db_path)
        self.limits = dict(DEFAULT_LIMITS, **(limits or {}))
        env_limit = os.environ.get("STUDIO_MAX_COMPUTE_JOBS")
        if env_limit and env_limit.isdigit():
            self.limits["compute"] = int(env_limit)
        self.grace = grace

    # ------------------------------------------------------------------ submitting

    def submit(self, kind: str, spec: dict, *, title: str = "", owner: str | None = None, key: str | None = None,
               run_dir: Path | None = None, pool: str | None = None, secrets: dict[str, str] | None = None,
               start: bool = True) -> Job:
        """Record a job as queued (durably) and try to start it. Same `key` twice: one job."""
        info = kinds.get(kind)
        spec = validated(kind, spec)  # one typed spec per kind (studio.jobs.specs)
        if key:
            existing = [j for j in self.store.list(limit=1000) if j.key == key]
            if existing:
                return existing[0]
        job_id = new_job_id(kind)
        folder = Path(run_dir) if run_dir else self.workspace.jobs / job_id
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        pool = pool or remote.pool_for(spec)  # cluster hook: a cluster's jobs queue apart from local compute
        job = Job(id=job_id, kind=kind, spec=spec, state="queued", pool=pool or info.pool, run_dir=str(folder),
                  created_at=now, updated_at=now, key=key, title=title or kind,
                  owner=owner or _current_user())
        job = self.store.insert(job)  # first the record: a folder with files in it always has its job
        if job.id == job_id:
            write_yaml(folder / "job.yaml", {"id": job_id, "kind": kind, "spec": spec})
        if secrets:
            store_secrets(self.workspace.root, job.id, secrets)
        if start:
            self.tick()
        _invalidate(self)
        return self.store.get(job.id) or job

    # ------------------------------------------------------------------ reading (always reconciled)

    def get(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise StudioError(key="jobs.no_such_job", id=job_id)
        if job.state == "running":
            job = self._reconcile(job)
        return job

    def list(self, limit: int = 200, kind: str | None = None) -> list[Job]:
        for job in self.store.list(states=("running",)):
            self._reconcile(job)
        return self.store.list(limit=limit, kind=kind)

    def snapshot(self, max_age: float = 2.0):
        """The cached, shared view of the queue for pollers (status bar, job panels): see `snapshot.py`."""
        from .snapshot import snapshot

        return snapshot(self, max_age)

    # ------------------------------------------------------------------ scheduling

    def tick(self) -> None:
        """Reconcile running jobs, escalate overdue cancels, start queued jobs that fit."""
        for job in self.store.list(states=("running",)):
            job = self._reconcile(job)
            if job.state == "running" and job.cancel_requested_at and job.pid:
                if time.time() - job.cancel_requested_at > self.grace:
                    procs.signal_group(job.pid, signal.SIGKILL)
        for pool in self.store.pools_with_queued():
            while self.store.claim_and_spawn(pool, self.limits.get(pool, 1), self._spawn) is not None:
                pass

    def _spawn(self, job: Job) -> tuple[int | None, float | None]:
        if remote.target(job):  # cluster hook: submitted to its cluster, no local worker pid
            remote.spawn(self, job)
            return None, None
        return procs.spawn_worker(job.id, Path(job.run_dir), self.workspace.root)

    def _reconcile(self, job: Job) -> Job:
        """Make a 'running' record tell the truth about its worker."""
        if remote.target(job):  # cluster hook
            return remote.reconcile(self, job)
        if job.pid is None:  # only records from before claims and spawns were one transaction
            if job.started_at and time.time() - job.started_at > START_TIMEOUT:
                self.store.transition(job.id, ("running",), state="queued", started_at=None,
                                      attempts=max(job.attempts - 1, 0))
                return self.store.get(job.id) or job
            return job
        if procs.alive(job.pid, job.pid_started):
            return job
        self._finish_dead(job, "the worker stopped without reporting (killed or crashed)")
        return self.store.get(job.id) or job

    def _finish_dead(self, job: Job, reason: str) -> None:
        result = events.read_exit(job.run_dir)
        if result and result.get("attempt") == job.attempts:
            self.store.transition(job.id, ("running",), state=result["state"], exit_code=result.get("exit_code"),
                                  error=result.get("error"), artifacts=result.get("artifacts") or {},
                                  ended_at=result.get("ended_at") or time.time())
        elif job.cancel_requested_at:
            self.store.transition(job.id, ("running",), state="cancelled", ended_at=time.time(),
                                  error="cancelled (the worker was stopped)")
        else:
            hint = "; resume it to continue from its last checkpoint" if kinds.get(job.kind).resumable else ""
            self.store.transition(job.id, ("running",), state="interrupted", ended_at=time.time(),
                                  error=reason + hint)
        if self.store.get(job.id).state in TERMINAL:
            drop_secrets(self.workspace.root, job.id)

    # ------------------------------------------------------------------ commands

    def cancel(self, job_id: str, wait: bool = False) -> Job:
        try:
            return self._cancel(job_id, wait)
        finally:
            _invalidate(self)

    def _cancel(self, job_id: str, wait: bool) -> Job:
        job = self.get(job_id)
        if job.state == "queued":
            if self.store.transition(job.id, ("queued",), state="cancelled", ended_at=time.time(),
                                     error="cancelled before it started"):
                drop_secrets(self.workspace.root, job.id)
                return self.get(job.id)
            job = self.get(job.id)
        if job.state == "interrupted":
            self.store.transition(job.id, ("interrupted",), state="cancelled", ended_at=time.time())
            drop_secrets(self.workspace.root, job.id)
            return self.get(job.id)
        if job.state != "running":
            return job
        self.store.transition(job.id, ("running",), cancel_requested_at=time.time())
        if remote.target(job):  # cluster hook
            remote.cancel(self, job)
        if job.pid:
            if wait:
                procs.kill_group(job.pid, self.grace)
            else:
                procs.signal_group(job.pid, signal.SIGTERM)
        if wait:
            deadline = time.time() + self.grace + 10
            while time.time() < deadline and self.get(job.id).state == "running":
                time.sleep(0.2)
            self.tick()
        return self.get(job.id)

    def resume(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.state in ACTIVE:
            raise StudioError(key="jobs.cannot_resume_active", id=job.id, state=job.state)
        if not kinds.get(job.kind).resumable and job.state == "succeeded":
            raise StudioError(key="jobs.already_succeeded", id=job.id)
        self.store.transition(job.id, (job.state,), state="queued", cancel_requested_at=None, error=None,
                              ended_at=None)
        self.tick()
        _invalidate(self)
        return self.get(job.id)

    def wait(self, job_id: str, poll: float = 0.5, on_update: Callable[[Job], None] | None = None,
             timeout: float | None = None) -> Job:
        """Block until the job ends (or is interrupted), ticking the queue meanwhile."""
        deadline = time.time() + timeout if timeout else None
        while True:
            self.tick()
            job = self.get(job_id)
            if on_update:
                on_update(job)
            if job.state in TERMINAL or job.state == "interrupted":
                return job
            if deadline and time.time() > deadline:
                return job
            time.sleep(poll)


def _invalidate(manager: JobManager) -> None:
    from .snapshot import invalidate

    invalidate(manager)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "local"
