"""Load test: a shared studio with --auth on 127.0.0.1, N logged-in browser sessions polling, two jobs
running, and one more person uploading and editing a dataset.

    python bench/load.py                       # 50 sessions, 1 minute
    python bench/load.py --minutes 10          # memory over ten minutes
    python bench/load.py --sessions 200        # where it bends

Each simulated session does what the page does over real HTTP: logs in (POST /login, a session
cookie), loads the page and /config, runs the page's load events, then fires every active gr.Timer
of the page at its interval (`--timers` narrows it), through the same routes as the browser: queued
events by POST /gradio_api/queue/join and the SSE stream /gradio_api/queue/data, unqueued ones by
POST /gradio_api/run/predict. The editor uploads a CSV (POST /gradio_api/upload), opens it through
the Data tab's upload event, then edits a cell of the data grid and applies the edit, again and
again. Two `sleep` jobs run meanwhile (STUDIO_MAX_COMPUTE_JOBS=2).

It reports p50/p95 latency of the status-bar update, of every timer, and of a grid edit; the server's
CPU and memory over time (psutil, sampled every few seconds); and every error. Every loop is bounded
by the deadline and by --max-requests; the script stops the server and the jobs it started.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--minutes", type=float, default=1.0, help="how long the sessions poll (default 1)")
    p.add_argument("--timers", default="all", help="'all', or comma-separated output elem_ids (e.g. studio-status)")
    p.add_argument("--max-requests", type=int, default=0, help="stop after this many requests (default: derived)")
    p.add_argument("--workspace", help="workspace folder (default: a temporary one)")
    p.add_argument("--out", help="also write the report as JSON here")
    p.add_argument("--edit-every", type=float, default=2.0, help="seconds between grid edits")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


class Stats:
    def __init__(self, limit: int, deadline: float):
        self.lat: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.requests = 0
        self.retries = 0
        self.when: dict[str, list[float]] = {}  # when each latency was recorded
        self.all_loaded = float("inf")  # when the last session finished loading its page
        self.limit = limit
        self.deadline = deadline

    def more(self) -> bool:
        return self.requests < self.limit and time.time() < self.deadline

    def add(self, label: str, seconds: float) -> None:
        self.lat.setdefault(label, []).append(seconds)
        self.when.setdefault(label, []).append(time.time())

    def error(self, text: str) -> None:
        if len(self.errors) < 200:
            self.errors.append(text[:300])


class Page:
    """What a browser keeps for one open tab: its session hash and the current component values."""

    def __init__(self, client: httpx.AsyncClient, config: dict, stats: Stats):
        self.client = client
        self.config = config
        self.stats = stats
        self.hash = secrets.token_hex(6)
        self.components = {c["id"]: c for c in config["components"]}
        self.values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
        self.pending: dict[str, asyncio.Future] = {}  # event id -> its result, filled by the stream reader
        self.early: dict[str, asyncio.Future] = {}  # results that arrived before their join answered
        self.reader: asyncio.Task | None = None

    def inputs(self, dep: dict, overrides: dict | None = None) -> list:
        out = []
        for cid in dep.get("inputs", []):
            if overrides and cid in overrides:
                out.append(overrides[cid])
            elif self.components.get(cid, {}).get("type") == "state":
                out.append(None)
            else:
                out.append(self.values.get(cid))
        return out

    def apply(self, dep: dict, data: list) -> None:
        for cid, value in zip(dep.get("outputs", []), data or []):
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "value" in value:
                    self.values[cid] = value["value"]
            else:
                self.values[cid] = value

    async def fire(self, dep: dict, trigger: int, label: str, overrides: dict | None = None) -> bool:
        """One event as the browser sends it; records its latency; True on success."""
        if not self.stats.more():
            return False
        self.stats.requests += 1
        body = {"data": self.inputs(dep, overrides), "fn_index": dep["id"], "trigger_id": trigger,
                "session_hash": self.hash, "event_data": None}
        start = time.perf_counter()
        try:
            return await self._fire(dep, body, label, start)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # the server closed an idle keep-alive connection just as it was reused; a browser retries too
            self.stats.retries += 1
            start = time.perf_counter()
            try:
                return await self._fire(dep, body, label, start)
            except (httpx.HTTPError, ValueError) as exc:
                self.stats.error(f"{label}: {type(exc).__name__}: {exc}")
                return False
        except (httpx.HTTPError, ValueError) as exc:
            self.stats.error(f"{label}: {type(exc).__name__}: {exc}")
            return False

    async def _fire(self, dep: dict, body: dict, label: str, start: float) -> bool:
        if not dep.get("queue", True):
            resp = await self.client.post("/gradio_api/run/predict", json=body)
            if resp.status_code != 200:
                self.stats.error(f"{label}: HTTP {resp.status_code} {resp.text[:120]}")
                return False
            self.apply(dep, resp.json().get("data"))
        else:
            ok, data = await self._queued(body, label)
            if not ok:
                return False
            self.apply(dep, data)
        self.stats.add(label, time.perf_counter() - start)
        return True

    async def _queued(self, body: dict, label: str) -> tuple[bool, list | None]:
        """Join the queue; the page's one SSE stream (as in the browser) delivers the result by event id."""
        join = await self.client.post("/gradio_api/queue/join", json=body)
        if join.status_code != 200:
            self.stats.error(f"{label}: join HTTP {join.status_code} {join.text[:120]}")
            return False, None
        event_id = join.json().get("event_id")
        future = self.early.pop(event_id, None) or asyncio.get_running_loop().create_future()
        self.pending[event_id] = future
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read_stream())
        try:
            msg = await asyncio.wait_for(future, 60)
        except asyncio.TimeoutError:
            self.stats.error(f"{label}: no result within 60 s")
            return False, None
        finally:
            self.pending.pop(event_id, None)
        if not msg.get("success", False):
            self.stats.error(f"{label}: failed: {str(msg.get('output'))[:160]}")
            return False, None
        return True, (msg.get("output") or {}).get("data")

    async def _read_stream(self) -> None:
        while self.pending and time.time() < self.stats.deadline + 60:
            try:
                async with self.client.stream("GET", "/gradio_api/queue/data",
                                              params={"session_hash": self.hash}) as stream:
                    if stream.status_code != 200:
                        self.stats.error(f"stream HTTP {stream.status_code}")
                        return
                    async for line in stream.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        msg = json.loads(line[5:])
                        if msg.get("msg") == "process_completed":
                            future = self.pending.get(msg.get("event_id"))
                            if future is None:
                                future = asyncio.get_running_loop().create_future()
                                self.early[msg.get("event_id")] = future
                            if not future.done():
                                future.set_result(msg)
                        elif msg.get("msg") == "close_stream":
                            break
            except httpx.HTTPError as exc:
                self.stats.error(f"stream: {type(exc).__name__}: {exc}")
                await asyncio.sleep(1)


def elem(config: dict, elem_id: str) -> int | None:
    return next((c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id), None)


def label_of(config: dict, dep: dict) -> str:
    names = [next((c.get("props", {}).get("elem_id") for c in config["components"] if c["id"] == o), None)
             for o in dep.get("outputs", [])]
    named = [n for n in names if n]
    return named[0] if named else f"fn{dep['id']}"


def timers(config: dict, wanted: str) -> list[tuple[dict, int, float, str]]:
    """(dependency, timer id, interval, label) of every active timer tick on the page."""
    comps = {c["id"]: c for c in config["components"]}
    out = []
    for dep in config["dependencies"]:
        for target, event in dep.get("targets", []):
            comp = comps.get(target, {})
            if event != "tick" or comp.get("type") != "timer":
                continue
            props = comp.get("props", {})
            if props.get("active") is False:
                continue
            label = label_of(config, dep)
            if wanted != "all" and label not in wanted.split(","):
                continue
            out.append((dep, target, float(props.get("value") or 1.0), label))
    return out


async def login(url: str, user: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=16))
    resp = await client.post("/login", data={"username": user, "password": password})
    resp.raise_for_status()
    return client


async def session(url, creds, stats: Stats, config_box: dict, wanted: str, stagger: float) -> None:
    await asyncio.sleep(stagger)
    client = await login(url, *creds)
    try:
        start = time.perf_counter()
        page_html = await client.get("/", headers={"accept": "text/html"})
        config = (await client.get("/config")).json()
        stats.add("page load (/ and /config)", time.perf_counter() - start)
        stats.loaded += 1
        if stats.loaded == stats.sessions:
            stats.all_loaded = time.time()
        if page_html.status_code != 200:
            stats.error(f"page: HTTP {page_html.status_code}")
        config_box.setdefault("config", config)
        page = Page(client, config, stats)
        for dep in config["dependencies"]:
            if any(event == "load" for _t, event in dep.get("targets", [])):
                await page.fire(dep, None, "page load events")
        loops = [poll(page, dep, trigger, every, label) for dep, trigger, every, label in timers(config, wanted)]
        await asyncio.gather(*loops)
    finally:
        await client.aclose()


async def poll(page: Page, dep: dict, trigger: int, every: float, label: str) -> None:
    await asyncio.sleep(random.uniform(0, every))
    while page.stats.more():
        began = time.time()
        await page.fire(dep, trigger, label)
        await asyncio.sleep(max(0.0, every - (time.time() - began)))


async def editor(url, creds, stats: Stats, data_file: Path, every: float) -> None:
    client = await login(url, *creds)
    try:
        config = (await client.get("/config")).json()
        page = Page(client, config, stats)
        upload_id, grid_id, apply_id = (elem(config, e) for e in ("data-upload", "data-grid", "data-apply-edits"))
        if None in (upload_id, grid_id, apply_id):
            stats.error("editor: the page has no data-upload / data-grid / data-apply-edits component")
            return
        deps = config["dependencies"]
        on_upload = next((d for d in deps if [upload_id, "upload"] in d["targets"] or
                          [upload_id, "change"] in d["targets"]), None)
        on_apply = next((d for d in deps if [apply_id, "click"] in d["targets"]), None)
        start = time.perf_counter()
        with data_file.open("rb") as f:
            resp = await client.post("/gradio_api/upload", files={"files": (data_file.name, f, "text/csv")})
        resp.raise_for_status()
        path = resp.json()[0]
        page.values[upload_id] = {"path": path, "orig_name": data_file.name, "size": data_file.stat().st_size,
                                  "meta": {"_type": "gradio.FileData"}}
        trigger = on_upload["targets"][0][0]
        if not await page.fire(on_upload, trigger, "dataset upload"):
            return
        stats.add("upload + open", time.perf_counter() - start)
        n = 0
        while stats.more():
            grid = page.values.get(grid_id)
            if not isinstance(grid, dict) or not grid.get("data"):
                stats.error(f"editor: the grid holds no rows after the upload ({str(grid)[:100]})")
                return
            n += 1
            edited = json.loads(json.dumps(grid))
            row = edited["data"][n % len(edited["data"])]
            row[-1] = f"edited answer {n}"
            began = time.time()
            await page.fire(on_apply, apply_id, "data-grid edit", overrides={grid_id: edited})
            await asyncio.sleep(max(0.0, every - (time.time() - began)))
    finally:
        await client.aclose()


async def monitor(pid: int, stats: Stats, samples: list, every: float = 5.0) -> None:
    proc = psutil.Process(pid)
    me = psutil.Process()
    proc.cpu_percent(None)
    me.cpu_percent(None)
    t0 = time.time()
    while time.time() < stats.deadline + 1:
        await asyncio.sleep(every)
        try:
            kids = proc.children(recursive=True)
            samples.append({"t": round(time.time() - t0, 1), "cpu_percent": proc.cpu_percent(None),
                            "bench_client_cpu_percent": me.cpu_percent(None),
                            "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                            "children_rss_mb": round(sum(k.memory_info().rss for k in kids
                                                         if k.is_running()) / 2**20, 1)})
        except psutil.Error:
            break


def make_data(folder: Path, rows: int = 300) -> Path:
    path = folder / "team_data.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["instruction", "output"])
        for i in range(rows):
            w.writerow([f"Question number {i}: what is {i} + {i}?", f"{i} + {i} = {2 * i}."])
    return path


def start_server(workspace: Path, port: int, password: str) -> subprocess.Popen:
    env = dict(os.environ, STUDIO_MAX_COMPUTE_JOBS="2", PYTHONPATH=str(ROOT), GRADIO_ANALYTICS_ENABLED="False")
    log = open(workspace.parent / f"load-server-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--workspace", str(workspace), "--port",
                             str(port), "--auth", f"bench:{password}"], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the studio exited; see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the studio did not start within 180 s")


async def run(args, url: str, password: str, server_pid: int, data_file: Path) -> dict:
    stats = Stats(args.max_requests or int(args.sessions * args.minutes * 60 * 4 + 1000),
                  time.time() + 5 + args.sessions * 0.05 + args.minutes * 60)
    stats.sessions, stats.loaded = args.sessions, 0
    samples: list[dict] = []
    config_box: dict = {}
    creds = ("bench", password)
    tasks = [session(url, creds, stats, config_box, args.timers, i * 0.05) for i in range(args.sessions)]
    tasks.append(editor(url, creds, stats, data_file, args.edit_every))
    tasks.append(monitor(server_pid, stats, samples))
    try:
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                                         stats.deadline - time.time() + 120)
    except asyncio.TimeoutError:
        results = [TimeoutError("the run did not end within two minutes of its deadline")]
    for r in results:
        if isinstance(r, BaseException):
            stats.error(f"task: {type(r).__name__}: {r}")
    return report(args, stats, samples, config_box.get("config"))


def report(args, stats: Stats, samples: list[dict], config: dict | None) -> dict:
    lat = {}
    for k, v in sorted(stats.lat.items()):
        steady = [x for x, w in zip(v, stats.when[k]) if w > stats.all_loaded]
        lat[k] = {"count": len(v), "p50_s": pct(v, 0.5), "p95_s": pct(v, 0.95), "max_s": round(max(v), 3),
                  "steady_count": len(steady), "steady_p50_s": pct(steady, 0.5), "steady_p95_s": pct(steady, 0.95)}
    rss = [s["rss_mb"] for s in samples]
    half = len(rss) // 2
    memory = {"start_mb": rss[0] if rss else None, "end_mb": rss[-1] if rss else None,
              "max_mb": max(rss) if rss else None,
              "first_half_mean_mb": round(statistics.mean(rss[:half]), 1) if half else None,
              "second_half_mean_mb": round(statistics.mean(rss[half:]), 1) if half else None}
    cpu = [s["cpu_percent"] for s in samples]
    timers_found = [label for _d, _t, _e, label in timers(config, args.timers)] if config else []
    return {"sessions": args.sessions, "minutes": args.minutes, "requests": stats.requests,
            "timers_per_page": timers_found, "latency": lat, "server_memory": memory,
            "server_cpu_percent": {"mean": round(statistics.mean(cpu), 1) if cpu else None,
                                   "max": max(cpu) if cpu else None},
            "bench_client_cpu_percent_mean": round(statistics.mean(
                [s["bench_client_cpu_percent"] for s in samples]), 1) if samples else None,
            "samples": samples, "errors": len(stats.errors), "retried_connection_resets": stats.retries, "error_examples": stats.errors[:10],
            "machine": {"cpus": psutil.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}}


def summary(rep: dict) -> str:
    lines = [f"{rep['sessions']} sessions, {rep['minutes']} min, {rep['requests']} requests, "
             f"{rep['errors']} errors ({rep['retried_connection_resets']} connection resets retried); "
             f"timers on the page: {', '.join(rep['timers_per_page'])}"]
    for label, s in rep["latency"].items():
        lines.append(f"  {label:28s} n={s['count']:5d}  p50={s['p50_s']}s  p95={s['p95_s']}s  max={s['max_s']}s"
                     f"  | after all pages loaded: n={s['steady_count']} p50={s['steady_p50_s']}s "
                     f"p95={s['steady_p95_s']}s")
    m, c = rep["server_memory"], rep["server_cpu_percent"]
    lines.append(f"  server memory: start {m['start_mb']} MB, max {m['max_mb']} MB, end {m['end_mb']} MB "
                 f"(means {m['first_half_mean_mb']} -> {m['second_half_mean_mb']} MB); "
                 f"CPU mean {c['mean']}%, max {c['max']}% (of one core)")
    lines.append(f"  machine: {rep['machine']['cpus']} CPUs, load average {rep['machine']['load_avg_1m']}; "
                 f"this bench client used {rep['bench_client_cpu_percent_mean']}% of a core on the same machine")
    for e in rep["error_examples"]:
        lines.append(f"  error: {e}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="studio-load-")
    workspace = Path(args.workspace) if args.workspace else Path(tmp.name) / "ws"
    workspace.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    port = free_port()
    server = start_server(workspace, port, password)
    os.environ["STUDIO_WORKSPACE"] = str(workspace)
    from studio.jobs import JobManager
    from studio.workspace import Workspace

    os.environ["STUDIO_MAX_COMPUTE_JOBS"] = "2"
    manager = JobManager(Workspace.open(workspace))
    steps = int((args.minutes * 60 + 120) / 0.5)
    jobs = [manager.submit("sleep", {"steps": steps, "step_seconds": 0.5}, title=f"load {i}") for i in range(2)]
    try:
        rep = asyncio.run(run(args, f"http://127.0.0.1:{port}", password, server.pid,
                              make_data(Path(tmp.name))))
        rep["jobs_running_during_test"] = [manager.get(j.id).state for j in jobs]
    finally:
        for j in jobs:
            manager.cancel(j.id, wait=True)
        try:
            os.killpg(server.pid, 15)
        except ProcessLookupError:
            pass
        server.wait(timeout=60)
        tmp.cleanup()
    print(summary(rep))
    if args.out:
        Path(args.out).write_text(json.dumps(rep, indent=2))
    return 1 if rep["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
