"""Worker process entry: `python -m studio.jobs.worker JOB_ID`.

Runs one job by kind, then records the outcome twice: first `exit.json` in the job folder (atomic),
then the job store. If the store write is lost, the next reconcile applies `exit.json`; if the
process dies before either, the job is marked interrupted. Success needs both a normal return and
every reported artifact present on disk. Last, it starts whatever is queued next.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path

from ..atomic import write_json
from ..errors import JobCancelled, StudioError
from ..workspace import Workspace
from . import events, kinds, procs
from .context import JobContext
from .secrets import drop_secrets, read_secrets
from .store import JobStore


def missing_artifacts(artifacts: dict) -> list[str]:
    """Reported outputs that are not on disk (a job that says it succeeded must have them)."""
    return [f"{name} ({path})" for name, path in artifacts.items()
            if isinstance(path, str) and path.startswith("/") and not Path(path).exists()]


def execute(ctx: JobContext) -> tuple[str, int, str | None, dict]:
    """Run the job's kind function; (state, exit code, error, artifacts). Every outcome is a state.

    Shared by the local worker and a cluster's worker (`remote_worker`), so a job ends the same way
    wherever it ran. The exit code decides success together with the artifacts it reports being on disk.
    SIGTERM is ignored from here on: the caller records the result.
    """
    state, code, error, artifacts = "failed", 1, None, {}
    try:
        artifacts = kinds.get(ctx.job.kind).function()(ctx) or {}
        missing = missing_artifacts(artifacts)
        if ctx.cancel_requested:
            state, code, error = "cancelled", 0, "cancelled"
        elif missing:
            error = f"finished but its outputs are missing: {', '.join(missing)}"
        else:
            state, code = "succeeded", 0
    except JobCancelled:
        state, code, error = "cancelled", 0, "cancelled"
    except StudioError as exc:
        error = exc.one_line()
        ctx.error_record = exc.record()  # exit.json keeps its key: readers show it in their own language
        print(f"[studio] error: {error}", flush=True)
    except BaseException as exc:  # noqa: BLE001 - everything must end in a recorded state
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}".strip()[:2000]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return state, code, error, artifacts


def run(job_id: str) -> int:
    workspace = Workspace.open(os.environ.get("STUDIO_WORKSPACE"))
    store = JobStore(workspace.db_path)
    me = os.getpid()
    job = store.confirm_worker(job_id, me)
    if job is None:  # its claim was rolled back (the submitter died) or the job was claimed for another worker
        current = store.get(job_id)
        print(f"[studio] job {job_id} is not waiting for this worker ({current.state if current else 'missing'})",
              flush=True)
        return 2
    from .manager import JobManager

    ctx = JobContext(job=job, workspace=workspace, events=events.Events(Path(job.run_dir)),
                     secrets=read_secrets(workspace.root, job_id), submitter=JobManager(workspace).submit)
    ctx.stop_on_signals()
    print(f"[studio] job {job_id} ({job.kind}) attempt {job.attempts} started, pid {me}", flush=True)
    state, code, error, artifacts = execute(ctx)
    ended = time.time()
    ctx.events.flush()
    write_json(Path(job.run_dir) / events.EXIT, {"state": state, "exit_code": code, "error": error,
                                                 "error_record": ctx.error_record,
                                                 "artifacts": artifacts, "ended_at": ended,
                                                 "attempt": job.attempts})
    store.transition(job_id, ("running",), state=state, exit_code=code, error=error, artifacts=artifacts,
                     ended_at=ended)
    drop_secrets(workspace.root, job_id)
    print(f"[studio] job {job_id} {state}" + (f": {error}" if error and state != "succeeded" else ""), flush=True)
    try:
        from .manager import JobManager

        JobManager(workspace).tick()
    except Exception:  # noqa: BLE001 - the next reader ticks anyway
        traceback.print_exc()
    return code


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: python -m studio.jobs.worker JOB_ID", file=sys.stderr)
        sys.exit(2)
    procs.quiet_library_noise()
    code = run(sys.argv[1])
    sys.stdout.flush()
    # Threads left by libraries (tokenizers, torch) must not keep a finished worker alive.
    os._exit(code)


if __name__ == "__main__":
    main()
