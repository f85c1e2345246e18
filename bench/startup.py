"""Start-up time of the studio, and whether an idle page makes any background requests.

    python bench/startup.py [--repeat 5] [--idle 20] [--no-idle]

1. Runs `python launch.py` in a fresh workspace REPEAT times and measures the time from the start of
   the process to the page being ready: GET / answers 200 and GET /config serves the app's config
   (with its components). Prints every number, the median and the best, and beside each the CPU
   seconds the studio process used until then (steadier than the wall time on a shared machine),
   then where the time goes in one fresh process (importing gradio as the studio does, the studio's
   UI modules, building both language pages) and whether a model library was imported (it must not be).
2. Opens the page once in headless Chromium (Debian's /usr/bin/chromium), waits for it to settle,
   then counts the requests the page makes over IDLE seconds with no job running: timers that
   tick, queue joins, API calls. Nothing should fire (target: 0).
Everything talks only to 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except Exception:  # noqa: BLE001 - not up yet
        return 0, b""


def launch(workspace: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(ROOT))
    log = open(workspace.parent / "launch.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--workspace", str(workspace), "--port",
                             str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def breakdown() -> str:
    """Where the time goes, in one fresh process: importing gradio, the studio UI, building the app."""
    code = (
        "import sys, time, tempfile; t0 = time.perf_counter(); from studio.ui.shell.gradio_import import gr; "
        "t1 = time.perf_counter(); "
        "from studio.ui.app import build_app; from studio.workspace import Workspace; t2 = time.perf_counter(); "
        "build_app(Workspace.open(tempfile.mkdtemp())); t3 = time.perf_counter(); "
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'peft', 'vllm') if m in sys.modules]; "
        "print(f'import gradio {t1 - t0:.2f} s, import studio.ui {t2 - t1:.2f} s, build both languages {t3 - t2:.2f} s; '"
        "     f'model libraries imported: {heavy or \"none\"}')")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    return (out.stdout.strip() or out.stderr.strip()[-300:])


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 15)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux /proc), None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def time_to_ready(workspace: Path, timeout: float = 120.0) -> tuple[float, float | None]:
    """(seconds from the start of launch.py to the page being ready, CPU seconds it used until then)."""
    port = free_port()
    started = time.perf_counter()
    proc = launch(workspace, port)
    url = f"http://127.0.0.1:{port}"
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                tail = (workspace.parent / "launch.log").read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"launch.py exited with {proc.returncode}: {' '.join(tail)}")
            status, _ = _get(url + "/", 1.0)
            if status == 200:
                status, body = _get(url + "/config", 5.0)
                if status == 200 and json.loads(body or b"{}").get("components"):
                    return time.perf_counter() - started, cpu_seconds(proc.pid)
            time.sleep(0.05)
        raise RuntimeError(f"not ready within {timeout} s")
    finally:
        stop(proc)


def idle_requests(workspace: Path, seconds: float, settle: float = 5.0) -> list[str]:
    """Requests an open page makes over `seconds` with nothing running."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = launch(workspace, port)
    url = f"http://127.0.0.1:{port}/"
    seen: list[str] = []
    try:
        deadline = time.time() + 120
        while _get(url)[0] != 200:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("the studio did not start")
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#qs-sample", timeout=60000)
            page.wait_for_timeout(settle * 1000)
            page.on("request", lambda request: seen.append(f"{request.method} {request.url.split(str(port))[-1]}"))
            page.wait_for_timeout(seconds * 1000)
            browser.close()
    finally:
        stop(proc)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds to watch an idle page")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle-page check")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        workspace = Path(tmp) / "ws"
        times, cpus = [], []
        for i in range(args.repeat):
            try:
                seconds, cpu = time_to_ready(workspace)
            except RuntimeError as exc:  # e.g. gradio's own localhost check timing out on a busy machine
                print(f"start-up {i + 1}/{args.repeat}: failed ({exc})", flush=True)
                continue
            times.append(seconds)
            cpus += [cpu] if cpu is not None else []
            print(f"start-up {i + 1}/{args.repeat}: {seconds:.2f} s" + (f" (cpu {cpu:.2f} s)" if cpu else ""),
                  flush=True)
        if not times:
            return 1
        print(f"start-up to page ready: median {statistics.median(times):.2f} s, best {min(times):.2f} s, "
              f"worst {max(times):.2f} s (target <= 3 s); cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
        if cpus:
            print(f"cpu of the studio process until ready: median {statistics.median(cpus):.2f} s")
        print(f"breakdown: {breakdown()}", flush=True)
        if not args.no_idle:
            seen = idle_requests(workspace, args.idle)
            print(f"idle page, {args.idle:.0f} s with no job: {len(seen)} requests (target 0)")
            for line in seen[:20]:
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
