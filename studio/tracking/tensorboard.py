"""The `tensorboard` job: TensorBoard over the workspace's runs, on 127.0.0.1, until cancelled.

It runs in the `serve` pool like a chat server. TensorBoard itself is a child process (its own
server, reading `runs/*/tensorboard/` event files written by every training run); the job writes
`tensorboard.json` with its address once the port answers, and on cancel ends the child so that
nothing is left listening.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import write_json
from ..errors import JobCancelled, StudioError

INFO = "tensorboard.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(logdir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
            "--port", str(port), "--reload_interval", "15"]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def job_spec(workspace, port: int | None = None) -> dict:
    """The tensorboard job's spec (the CLI and the UI button both submit this)."""
    return {"logdir": str(workspace.runs), "port": port}


def running(manager):
    """The TensorBoard job already running in this workspace, if any (one is enough)."""
    jobs = [j for j in manager.list(kind="tensorboard", limit=20) if j.state in ("queued", "running")]
    return jobs[0] if jobs else None


def info(run_dir: str | Path) -> dict | None:
    import json

    try:
        return json.loads((Path(run_dir) / INFO).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def run_job(ctx) -> dict:
    logdir = Path(ctx.spec.get("logdir") or ctx.workspace.runs)
    port = int(ctx.spec.get("port") or free_port())
    ctx.cooperative = True  # a cancel sets the flag; the loop below ends the child process
    log = open(ctx.run_dir / "tensorboard.log", "ab")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(command(logdir, port), stdout=log, stderr=subprocess.STDOUT, env=env)
    path = ctx.run_dir / INFO
    try:
        ctx.events.progress(None, f"Starting TensorBoard over {logdir}", phase="setup", force=True)
        deadline = time.time() + 120
        while not _answers(port):
            if proc.poll() is not None:
                raise StudioError(key="tracking.tensorboard_died", log=str(ctx.run_dir / "tensorboard.log"))
            if time.time() > deadline:
                raise StudioError(key="tracking.tensorboard_slow", log=str(ctx.run_dir / "tensorboard.log"))
            if ctx.cancel_requested:
                raise JobCancelled()
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/"
        write_json(path, {"url": url, "port": port, "logdir": str(logdir), "pid": proc.pid})
        ctx.events.progress(1.0, f"TensorBoard at {url}", phase="serving", url=url, force=True)
        ctx.events.log(f"TensorBoard at {url} over {logdir}")
        while not ctx.cancel_requested:
            if proc.poll() is not None:
                raise StudioError(key="tracking.tensorboard_died", log=str(ctx.run_dir / "tensorboard.log"))
            time.sleep(0.5)
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
    raise JobCancelled()  # a server only stops when it is asked to
