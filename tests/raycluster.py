"""A real one-node Ray cluster on this machine for tests: `ray start --head --block`, all bound to 127.0.0.1,
started in its own session and stopped by its process ids (never `ray stop`, which stops every Ray on
the machine)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_head(folder: Path, tries: int = 3) -> "RayHead":
    """A ready head; on a busy machine Ray's fixed 30 s raylet start-up wait can run out, so try again."""
    for attempt in range(tries):
        head = RayHead(Path(folder) / f"try-{attempt}")
        try:
            head.wait_ready()
            return head
        except (RuntimeError, TimeoutError):
            head.stop()
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


class RayHead:
    def __init__(self, folder: Path, cpus: int = 2):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Ray's unix sockets live under --temp-dir and their paths must stay under 108 bytes: a short folder
        self.temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
        self.dashboard = free_port()
        self.address = f"http://127.0.0.1:{self.dashboard}"
        ports = {"--port": free_port(), "--dashboard-port": self.dashboard, "--ray-client-server-port": free_port(),
                 "--dashboard-agent-listen-port": free_port(), "--dashboard-agent-grpc-port": free_port(),
                 "--node-manager-port": free_port(), "--object-manager-port": free_port(),
                 "--runtime-env-agent-port": free_port(), "--metrics-export-port": free_port()}
        cmd = [str(BIN / "ray"), "start", "--head", "--block", "--num-cpus", str(cpus), "--num-gpus", "0",
               "--dashboard-host", "127.0.0.1", "--node-ip-address", "127.0.0.1", "--include-dashboard", "true",
               "--disable-usage-stats", "--temp-dir", self.temp,
               "--min-worker-port", "0", "--max-worker-port", "0"]
        for flag, port in ports.items():
            cmd += [flag, str(port)]
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
        self.log = open(self.folder / "ray-head.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=env)
        self.members: set[int] = set()

    def wait_ready(self, timeout: float = 180.0) -> None:
        import requests

        deadline = time.time() + timeout
        while time.time() < deadline:
            self._remember()
            if self.proc.poll() is not None:
                raise RuntimeError("ray start exited: " + (self.folder / "ray-head.log").read_text()[-3000:])
            started = "Ray runtime started" in (self.folder / "ray-head.log").read_text(errors="replace")
            try:
                if started and requests.get(self.address + "/api/jobs/", timeout=10).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1.0)
        raise TimeoutError("the Ray head did not come up: " + (self.folder / "ray-head.log").read_text()[-3000:])

    def _remember(self) -> None:
        try:
            root = psutil.Process(self.proc.pid)
            self.members |= {root.pid, *(c.pid for c in root.children(recursive=True))}
        except psutil.NoSuchProcess:
            pass

    def stop(self) -> None:
        """SIGTERM the `ray start --block` process (it stops what it started), then SIGKILL every process
        of ours that is left."""
        self._remember()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.time() + 20
        while time.time() < deadline:
            alive = [p for p in self.members if psutil.pid_exists(p)
                     and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
            if not alive:
                break
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
        shutil.rmtree(self.temp, ignore_errors=True)
