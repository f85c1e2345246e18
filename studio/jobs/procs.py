"""Worker processes: spawned detached (own session, output to a file), identified by pid + start time.

A pid alone lies once the OS reuses it, so a worker counts as alive only while a process with the
recorded pid *and* the recorded start time exists and is not a zombie.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

LOG_NAME = "worker.log"


def quiet_library_noise() -> None:
    """bitsandbytes logs "Failed to load CPU gemm_4bit_forward" at import on every CPU without its optional
    `kernels` package (peft and transformers import it whenever it is installed): noise for a user."""
    import logging

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def alive(pid: int | None, started: float | None) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def spawn_worker(job_id: str, run_dir: Path, workspace_root: Path) -> tuple[int, float | None]:
    """Start `python -m studio.jobs.worker JOB_ID` detached from this process and its terminal."""
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, STUDIO_WORKSPACE=str(workspace_root), PYTHONUNBUFFERED="1")
    env.pop("GRADIO_SERVER_PORT", None)
    with open(run_dir / LOG_NAME, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio.jobs.worker", job_id],
            cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    # Reap the child when it exits so it never lingers as a zombie under a long-lived studio.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{job_id}").start()
    return proc.pid, start_time(proc.pid)


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied, PermissionError):
            continue
    return members


def signal_group(pid: int, sig: int) -> bool:
    """Send `sig` to the worker's process group (it leads its own session). False if it is gone."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def kill_group(pid: int, grace: float) -> bool:
    """SIGTERM the group, wait up to `grace` seconds, then SIGKILL; True once no member is left."""
    if not signal_group(pid, signal.SIGTERM):
        return not group_members(pid)
    deadline = time.time() + grace
    while time.time() < deadline:
        if not group_members(pid):
            return True
        time.sleep(0.2)
    signal_group(pid, signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline:
        if not group_members(pid):
            return True
        time.sleep(0.1)
    return not group_members(pid)
