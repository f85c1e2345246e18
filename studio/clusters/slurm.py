"""Studio jobs on Slurm: one `sbatch` script per run, written into the run folder (`slurm.sbatch`).

Where this machine has `sbatch`, the job is submitted and reconciled through `squeue`/`sacct` and
cancelled with `scancel`; elsewhere the job stops with the script's path, to copy to a login node
(`studio cluster script RUN.yaml --cluster NAME` prints it without starting anything).

A training run with several processes runs `srun accelerate launch` once per node, the rendezvous
taken from Slurm's own variables (first host of SLURM_JOB_NODELIST, SLURM_NNODES, SLURM_NODEID); the
worker command (`studio.jobs.remote_worker`) then turns rank 0's result into the job's `exit.json`.
Other jobs run the worker command itself on the first node.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from ..atomic import write_text
from ..errors import StudioError

SCRIPT = "slurm.sbatch"
TIMEOUT_S = 60
RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING",
           "STAGE_OUT"}
CANCELLED = {"CANCELLED", "PREEMPTED", "REVOKED", "DEADLINE"}


def planned_handle(job) -> str:
    return ""  # Slurm names the job when sbatch accepts it


def _train_spec(job):
    if job.kind != "train":
        return None
    from ..spec import build_spec

    return build_spec(job.spec, source=f"job {job.id}")


def launch_line(spec, run_dir: str, job_id: str, python: str) -> str:
    """The per-node training launch, run by `srun` on every node with the node's own Slurm variables."""
    from ..train.launch import ACCELERATE_FILE, RANK_MODULE, plan

    p = plan(spec)
    if p.cpu:
        args = [python, "-m", "torch.distributed.run", "--nnodes", "$SLURM_NNODES", "--node-rank", "$SLURM_NODEID",
                f"--nproc-per-node={p.processes}", "--master-addr", "$MASTER_ADDR", "--master-port", "$MASTER_PORT"]
    else:
        args = [python, "-m", "accelerate.commands.launch", "--config_file", f"{run_dir}/{ACCELERATE_FILE}",
                "--num_machines", "$SLURM_NNODES", "--machine_rank", "$SLURM_NODEID",
                "--num_processes", f"$((SLURM_NNODES * {p.processes}))", "--main_process_ip", "$MASTER_ADDR",
                "--main_process_port", "$MASTER_PORT", "--rdzv_backend", "c10d"]
    args += ["-m", RANK_MODULE, job_id]
    return " ".join(a if a.startswith("$") else shlex.quote(a) for a in args)


def script(cluster, job, command: str, env: dict[str, str], spec=None) -> str:
    """The sbatch script for `job` (its resources from the run spec, queue settings from the cluster)."""
    from ..train.launch import plan, uses_launcher

    run_dir = job.run_dir
    nodes, gpus = 1, cluster.gpus_per_node
    launched = spec is not None and uses_launcher(spec)
    if spec is not None:
        p = plan(spec)
        nodes = p.nodes
        if not p.cpu:
            gpus = gpus or p.processes
    head = ["#!/bin/bash", f"#SBATCH --job-name=studio-{job.id}", f"#SBATCH --nodes={nodes}",
            "#SBATCH --ntasks-per-node=1", f"#SBATCH --time={cluster.time}",
            f"#SBATCH --output={run_dir}/worker.log", "#SBATCH --open-mode=append", f"#SBATCH --chdir={run_dir}"]
    if gpus:
        head.append(f"#SBATCH --gpus-per-node={gpus}")
    if cluster.partition:
        head.append(f"#SBATCH --partition={cluster.partition}")
    if cluster.account:
        head.append(f"#SBATCH --account={cluster.account}")
    body = ["set -uo pipefail", *(f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())),
            f"export STUDIO_RUN_DIR={shlex.quote(run_dir)} STUDIO_ATTEMPT={int(job.attempts)}"]
    if launched:
        body += ['export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
                 "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))",
                 f"srun --kill-on-bad-exit=1 bash -c {shlex.quote('exec ' + launch_line(spec, run_dir, job.id, cluster.interpreter))}",
                 "launched=$?",
                 f"{command} --collect $launched"]
    else:
        body.append(command)
    return "\n".join(head) + "\n\n" + "\n".join(body) + "\n"


def preview(cluster, spec, workspace_root: Path) -> str:
    """The script a run would get (run folder and job id shown as placeholders: nothing is created)."""
    from types import SimpleNamespace

    from .submit import command, job_env

    job = SimpleNamespace(id="JOB_ID", attempts=1, kind="train", run_dir=str(Path(workspace_root) / "runs" / "RUN"))

    return script(cluster, job, command(cluster, job), job_env(cluster, workspace_root), spec)


def submit(cluster, job, command: str, env: dict[str, str]) -> str:
    spec = _train_spec(job)
    if spec is not None:
        from ..train.launch import uses_launcher, write_configs

        if uses_launcher(spec):
            write_configs(spec, Path(job.run_dir))  # srun's accelerate launch reads them from the shared folder
    path = write_text(Path(job.run_dir) / SCRIPT, script(cluster, job, command, env, spec))
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise StudioError(key="cluster.no_sbatch", script=str(path))
    out = subprocess.run([sbatch, "--parsable", str(path)], capture_output=True, text=True, timeout=TIMEOUT_S)
    if out.returncode != 0 or not out.stdout.strip():
        raise StudioError(key="cluster.submit_failed", cluster=cluster.name, error=(out.stderr or out.stdout)[:300])
    return out.stdout.strip().split(";")[0]


def _run(args: list[str]) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def state_of(slurm_state: str) -> str:
    """A Slurm job state (squeue/sacct spelling) as a studio state."""
    word = slurm_state.strip().split()[0].rstrip("+") if slurm_state.strip() else ""
    if word in RUNNING:
        return "running"
    if word == "COMPLETED":
        return "succeeded"
    if word in CANCELLED:
        return "cancelled"
    return "failed"


def status(cluster, handle: str) -> tuple[str | None, str]:
    queued = _run(["squeue", "-h", "-j", handle, "-o", "%T"])
    if queued is None and shutil.which("squeue") is None:
        return None, "squeue is not available here"
    if queued and queued.strip():
        word = queued.strip().splitlines()[0]
        return state_of(word), f"Slurm {word}"
    done = _run(["sacct", "-n", "-X", "-P", "-j", handle, "-o", "State"])
    if done and done.strip():
        word = done.strip().splitlines()[0]
        return state_of(word), f"Slurm {word}"
    return "missing", f"Slurm job {handle} is in neither squeue nor sacct"


def logs(cluster, handle: str) -> str | None:
    return None  # sbatch --output writes the run folder's worker.log itself


def stop(cluster, handle: str) -> bool:
    return _run(["scancel", handle]) is not None
