"""What a cluster runs for a studio job: the worker command (`python -m studio.jobs.remote_worker`, in the
job's run folder) and the environment it takes along (paths and offline switches; never secrets: the
job reads those itself from the workspace)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

FORWARD = ("STUDIO_WORKSPACE", "STUDIO_CACHE", "PYTHONPATH", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
           "HF_DATASETS_OFFLINE", "TOKENIZERS_PARALLELISM", "STUDIO_LANG")
WORKER = "studio.jobs.remote_worker"


def command(cluster, job) -> str:
    """The worker command on the cluster: the job's own kind function, in its run folder."""
    return (f"cd {shlex.quote(job.run_dir)} && {shlex.quote(cluster.interpreter)} -m {WORKER} "
            f"{shlex.quote(job.id)} {int(job.attempts)}")


def job_env(cluster, workspace_root: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in FORWARD if os.environ.get(k)}
    env["STUDIO_WORKSPACE"] = str(workspace_root)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(cluster.env)
    return env
