"""What the job manager calls for a job that runs on a cluster (studio/clusters: Ray, Slurm) (its spec names one in `resources.cluster`,
or `cluster` at the top for other job kinds): submit, reconcile, cancel.

The job's handle (Ray submission id or Slurm job id) is kept in the run folder (`remote.json`, written
atomically before anything is submitted), and the job reports its outcome the way a local worker
does (`exit.json` in the run folder, on the shared file system), so the studio may die and restart at
any point: the next reconcile asks the cluster and finds the job again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..atomic import write_json, write_text
from ..clusters import registry
from ..clusters.submit import command, job_env
from ..errors import StudioError
from . import events
from .procs import LOG_NAME
from .secrets import drop_secrets

HANDLE = "remote.json"
NEVER_SUBMITTED_S = 120.0  # a handle the cluster never heard of is given up after this
LOG_EVERY_S = 2.0
_last_log: dict[str, float] = {}


def target(job) -> str:
    """The cluster a job runs on ("" = this machine)."""
    spec = job.spec if isinstance(job.spec, dict) else {}
    resources = spec.get("resources") if isinstance(spec.get("resources"), dict) else {}
    return str(resources.get("cluster") or spec.get("cluster") or "")


def pool_for(spec: dict) -> str | None:
    """A cluster's jobs queue in their own pool: they take no local compute slot."""
    from types import SimpleNamespace

    name = target(SimpleNamespace(spec=spec))
    return f"cluster:{name}" if name else None


def _backend(kind: str):
    from ..clusters import ray, slurm

    return {"ray": ray, "slurm": slurm}[kind]


def read_handle(run_dir: str | Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / HANDLE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def spawn(manager, job) -> None:
    """Submit a just-claimed job to its cluster (instead of starting a local worker).

    Called inside the claim's transaction: it must not write the job store itself; a refusal is raised
    as a StudioError and recorded by the claim."""
    now = time.time()
    try:
        cluster = registry.get(manager.workspace.root, target(job))
        backend = _backend(cluster.kind)
        handle = {"cluster": cluster.name, "kind": cluster.kind, "attempt": job.attempts, "submitted_at": now,
                  "handle": backend.planned_handle(job)}
        write_json(Path(job.run_dir) / HANDLE, handle)
        handle["handle"] = backend.submit(cluster, job, command(cluster, job),
                                          job_env(cluster, manager.workspace.root))
        write_json(Path(job.run_dir) / HANDLE, handle)
    except StudioError:
        raise  # the claim records it as failed, in the same transaction (JobStore.claim_and_spawn)
    print(f"[studio] job {job.id} submitted to {cluster.kind} cluster {cluster.name}: {handle['handle']}",
          flush=True)


def reconcile(manager, job):
    """Make a 'running' cluster job tell the truth: ask the cluster, pull its log, apply its result."""
    handle = read_handle(job.run_dir)
    if handle is None or handle.get("attempt") != job.attempts or not handle.get("handle"):
        if job.started_at and time.time() - job.started_at > NEVER_SUBMITTED_S:
            _finish(manager, job, None, "interrupted", "the job never reached its cluster")
        return manager.store.get(job.id) or job
    try:
        cluster = registry.get(manager.workspace.root, handle["cluster"])
    except StudioError:
        return job  # the cluster was removed from the workspace: nothing to ask; it stays as it is
    backend = _backend(cluster.kind)
    state, detail = backend.status(cluster, handle["handle"])
    _pull_log(cluster, backend, handle["handle"], job.run_dir, force=state not in (None, "running"))
    if state in (None, "running"):
        return job
    if state == "missing":
        if time.time() - float(handle.get("submitted_at") or 0) > NEVER_SUBMITTED_S:
            _finish(manager, job, None, "interrupted", f"the cluster no longer knows the job ({detail})")
        return manager.store.get(job.id) or job
    result = events.read_exit(job.run_dir)
    _finish(manager, job, result if result and result.get("attempt") == job.attempts else None, state, detail)
    return manager.store.get(job.id) or job


def _finish(manager, job, result: dict | None, state: str, detail: str) -> None:
    if result:
        manager.store.transition(job.id, ("running",), state=result["state"], exit_code=result.get("exit_code"),
                                 error=result.get("error"), artifacts=result.get("artifacts") or {},
                                 ended_at=result.get("ended_at") or time.time())
    elif state == "cancelled" or job.cancel_requested_at:
        manager.store.transition(job.id, ("running",), state="cancelled", ended_at=time.time(),
                                 error=f"cancelled on the cluster ({detail})")
    else:
        state = "failed" if state in ("succeeded", "failed") else state
        manager.store.transition(job.id, ("running",), state=state, ended_at=time.time(),
                                 error=f"the job ended on its cluster without a result ({detail}); "
                                       f"see its log")
    if (manager.store.get(job.id).state in ("succeeded", "failed", "cancelled")):
        drop_secrets(manager.workspace.root, job.id)


def _pull_log(cluster, backend, handle: str, run_dir: str, force: bool = False) -> None:
    """The cluster's copy of the job's output, into the run folder's worker.log (what the studio shows)."""
    if not force and time.time() - _last_log.get(handle, 0.0) < LOG_EVERY_S:
        return
    _last_log[handle] = time.time()
    text = backend.logs(cluster, handle)
    if text:
        write_text(Path(run_dir) / LOG_NAME, text)


def cancel(manager, job) -> None:
    """Ask the cluster to stop the job; the next reconcile records it as cancelled."""
    handle = read_handle(job.run_dir)
    if not handle or not handle.get("handle"):
        return
    try:
        cluster = registry.get(manager.workspace.root, handle["cluster"])
    except StudioError:
        return
    _backend(cluster.kind).stop(cluster, handle["handle"])
