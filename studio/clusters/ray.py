"""Studio jobs on a Ray cluster through the Ray Jobs API (`ray.job_submission.JobSubmissionClient`).

A job is submitted as the same worker a local job runs (`python -m studio.jobs.remote_worker`), started in
its run folder on the shared file system, with the submission id `studio-<job id>-a<attempt>`: chosen
by the studio, so a studio that died mid-submit finds the job again instead of submitting it twice.
Ray's states map onto the studio's (PENDING/RUNNING -> running, SUCCEEDED -> the worker's own result,
FAILED -> failed, STOPPED -> cancelled); logs come back through the same API into the run folder.
"""

from __future__ import annotations

from ..errors import StudioError
from ..train.launch import RAY_ENV  # tells the worker to start several training processes through Ray Train

TIMEOUT_S = 15.0  # every request to the cluster is bounded
STATES = {"PENDING": "running", "RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed",
          "STOPPED": "cancelled"}
_CLIENTS: dict[str, object] = {}


def submission_id(job) -> str:
    return f"studio-{job.id}-a{job.attempts}"


def planned_handle(job) -> str:
    return submission_id(job)


def client(address: str):
    """One client per address (its constructor checks the connection: a request worth keeping)."""
    if address in _CLIENTS:
        return _CLIENTS[address]
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError:
        raise StudioError(key="cluster.no_ray") from None

    class Client(JobSubmissionClient):
        def _do_request(self, *args, **kwargs):
            kwargs.setdefault("timeout", TIMEOUT_S)
            return super()._do_request(*args, **kwargs)

    try:
        made = Client(address)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, requests errors, version errors
        raise StudioError(key="cluster.unreachable", address=address, error=str(exc)[:300]) from None
    _CLIENTS[address] = made
    return made


def submit(cluster, job, command: str, env: dict[str, str]) -> str:
    """Submit `command` (run in the job's run folder); returns the submission id (the job's handle)."""
    sid = submission_id(job)
    c = client(cluster.address)
    try:
        c.submit_job(entrypoint=command, submission_id=sid, runtime_env={"env_vars": {**env, RAY_ENV: "1"}},
                     metadata={"studio_job": job.id, "studio_kind": job.kind})
    except Exception as exc:  # noqa: BLE001
        if "already exists" in str(exc):  # submitted before a crash: the same job, keep tracking it
            return sid
        raise StudioError(key="cluster.submit_failed", cluster=cluster.name, error=str(exc)[:300]) from None
    return sid


def status(cluster, handle: str) -> tuple[str | None, str]:
    """(studio state or "missing", Ray's message); (None, why) when the cluster cannot be asked now."""
    try:
        info = client(cluster.address).get_job_info(handle)
    except StudioError as exc:
        _CLIENTS.pop(cluster.address, None)
        return None, exc.one_line()
    except Exception as exc:  # noqa: BLE001
        text = str(exc)
        if "404" in text or "does not exist" in text:
            return "missing", text[:300]
        _CLIENTS.pop(cluster.address, None)
        return None, text[:300]
    raw = str(getattr(info.status, "value", info.status))
    return STATES.get(raw, "running"), f"Ray {raw}: {info.message or ''}".strip()


def logs(cluster, handle: str) -> str | None:
    try:
        return client(cluster.address).get_job_logs(handle)
    except Exception:  # noqa: BLE001 - logs are best effort; the state is what counts
        return None


def stop(cluster, handle: str) -> bool:
    try:
        return bool(client(cluster.address).stop_job(handle))
    except Exception:  # noqa: BLE001
        return False
