"""One training process (rank) of a multi-process run: `accelerate launch ... -m studio.jobs.ranks JOB_ID`.

The launch (`studio.train.launch`) starts one of these per GPU under the job's worker. Each rank is a job
worker of its own: it rebuilds the job's context (the job from the job store, or from its run folder on a
cluster), stops on the same signals, and trains through `studio.train.launch.run_rank`, which reports
rank 0's artifacts or error in `launch_result.json` for the worker.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..errors import StudioError


def _rank() -> int:
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def rank_context(job_id: str, rank: int):
    """The JobContext a rank trains with, its job read from the job store."""
    from ..workspace import Workspace
    from .context import JobContext
    from .store import JobStore

    workspace = Workspace.open(os.environ.get("STUDIO_WORKSPACE"))
    if os.environ.get("STUDIO_RUN_DIR"):  # on a cluster (Slurm): the job comes from its run folder, not the db
        job = job_from_folder(Path(os.environ["STUDIO_RUN_DIR"]), job_id, int(os.environ.get("STUDIO_ATTEMPT", "1")))
    else:
        job = JobStore(workspace.db_path).get(job_id)
    if job is None:
        raise StudioError(key="resources.job_not_found", job=job_id)
    return JobContext.for_rank(job, workspace, rank)


def job_from_folder(run_dir: Path, job_id: str, attempt: int):
    """The job record as far as a worker or a rank needs it, from the run folder the manager wrote
    (`job.yaml`): on a cluster the job database belongs to the studio and is never written there."""
    import yaml

    from .store import Job

    data = yaml.safe_load((Path(run_dir) / "job.yaml").read_text(encoding="utf-8")) or {}
    if data.get("id") != job_id:
        raise StudioError(key="cluster.wrong_folder", folder=str(run_dir), job=job_id)
    now = time.time()
    return Job(id=job_id, kind=data["kind"], spec=data.get("spec") or {}, state="running", pool="cluster",
               run_dir=str(run_dir), created_at=now, updated_at=now, started_at=now, attempts=attempt)


def rank_main(job_id: str) -> int:
    from ..spec import build_spec
    from ..train.launch import run_rank

    rank = _rank()
    ctx = rank_context(job_id, rank)
    ctx.stop_on_signals()
    spec = build_spec(ctx.spec, source=f"job {job_id}")
    shared = Path(ctx.job.run_dir).parents[1] if rank else Path(ctx.job.run_dir)
    return run_rank(spec, ctx, rank, shared)[1]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: accelerate launch ... -m studio.jobs.ranks JOB_ID", file=sys.stderr)
        sys.exit(2)
    exit_code = rank_main(sys.argv[1])
    sys.stdout.flush()
    os._exit(exit_code)  # threads left by libraries must not keep a finished rank alive
