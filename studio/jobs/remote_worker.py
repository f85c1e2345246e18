"""A studio job's worker on a cluster: `python -m studio.jobs.remote_worker JOB_ID ATTEMPT`, in its run folder.

The same job function a local worker runs (`studio.jobs.kinds`), with the job read from the run folder
(`job.yaml`) instead of the job database, which belongs to the studio: the cluster never writes it.
The outcome goes to `exit.json` for the studio's reconcile, exactly as a local worker records it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..atomic import write_json


def run(job_id: str, attempt: int, run_dir: Path) -> int:
    from ..workspace import Workspace
    from . import events
    from .context import JobContext
    from .ranks import job_from_folder
    from .worker import execute
    from .secrets import read_secrets

    workspace = Workspace.open(os.environ.get("STUDIO_WORKSPACE"))
    job = job_from_folder(run_dir, job_id, attempt)
    ctx = JobContext(job=job, workspace=workspace, events=events.Events(run_dir),
                     secrets=read_secrets(workspace.root, job_id))
    ctx.stop_on_signals()
    print(f"[studio] job {job_id} ({job.kind}) attempt {attempt} started on {os.uname().nodename}, "
          f"pid {os.getpid()}", flush=True)
    state, code, error, artifacts = execute(ctx)
    ctx.events.flush()
    write_json(run_dir / events.EXIT, {"state": state, "exit_code": code, "error": error, "artifacts": artifacts,
                                       "ended_at": time.time(), "attempt": attempt})
    print(f"[studio] job {job_id} {state}" + (f": {error}" if error and state != "succeeded" else ""), flush=True)
    return 0 if state in ("succeeded", "cancelled") else 1


def collect(job_id: str, attempt: int, run_dir: Path, launch_code: int) -> int:
    """After `srun accelerate launch` (Slurm): rank 0's launch_result.json becomes the job's exit.json."""
    from ..train.launch import RESULT_FILE
    from . import events
    from .worker import missing_artifacts

    try:
        result = json.loads((run_dir / RESULT_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        result = {}
    artifacts = result.get("artifacts") or {}
    missing = missing_artifacts(artifacts)
    if result.get("cancelled"):
        state, error = "cancelled", "cancelled"
    elif result.get("error"):
        state, error = "failed", result["error"]
    elif "artifacts" not in result or launch_code != 0:
        state, error = "failed", f"the training processes failed (exit code {launch_code}); see worker.log"
    elif missing:
        state, error = "failed", f"finished but its outputs are missing: {', '.join(missing)}"
    else:
        state, error = "succeeded", None
    write_json(run_dir / events.EXIT, {"state": state, "exit_code": 0 if state == "succeeded" else 1,
                                       "error": error, "artifacts": artifacts, "ended_at": time.time(),
                                       "attempt": attempt})
    print(f"[studio] job {job_id} {state}" + (f": {error}" if error else ""), flush=True)
    return 0 if state == "succeeded" else 1


def main() -> None:
    args = sys.argv[1:]
    if len(args) not in (2, 4) or not args[1].isdigit() or (len(args) == 4 and args[2] != "--collect"):
        print("usage: python -m studio.jobs.remote_worker JOB_ID ATTEMPT [--collect LAUNCH_EXIT_CODE] "
              "(in the job's run folder)", file=sys.stderr)
        sys.exit(2)
    import logging

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    if len(args) == 4:
        code = collect(args[0], int(args[1]), Path.cwd(), int(args[3]))
    else:
        code = run(args[0], int(args[1]), Path.cwd())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
