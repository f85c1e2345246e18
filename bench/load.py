"""Load test: a shared studio with --auth on 127.0.0.1, N logged-in browser sessions polling, two jobs
running, and one more person uploading and editing a dataset.

    python bench/load.py                       # 50 sessions, 1 minute
    python bench/load.py --minutes 10          # memory over ten minutes
    python bench/load.py --sessions 200        # where it bends

Each simulated session does what a browser on the page "/" does, over real HTTP: logs in (POST /login,
a session cookie), loads the page and /config, and runs the page's load events that have a backend fn
(the js-only ones run in the browser and are never sent). It applies every result as the page does: a
`gr.Timer(active=...)` output switches that timer on or off (the status bar's timer is off until a refresh
finds running jobs, shell/status.py), a value that changes (or a State listed in `changed_state_ids`, or
a component's first value) fires the `.change` events listening to it, and a success fires `.then`
events. Then it fires every mounted timer that is active at its interval (a timer in a tab that is not
shown is not mounted and never ticks; `--timers` narrows the ticks, e.g. `status-text` or the alias
`studio-status`), through the same routes as the browser: queued events by POST /gradio_api/queue/join
and the SSE stream /gradio_api/queue/data, unqueued ones by POST /gradio_api/run/predict. The editor is
one more page: it opens the same way, uploads a CSV (POST /gradio_api/upload), sends the Data page's
`data-upload` upload event (the loaded-dataset State changes, whose `.change` fills `data-grid`), then
edits the last cell of a row and clicks `data-apply-edits`, again and again; each edit is read back from
the grid the event returns (an edit that did not land is an error). Its clicks are a browser's: the rail's
Data button first, and each click's status poke 1.5 s later (shell/status.py POKE_JS). Two `sleep` jobs
run meanwhile (STUDIO_MAX_COMPUTE_JOBS=2).

Checked against Chromium (headless Debian /usr/bin/chromium via Playwright, 2026-11-30): one logged-in
page with two running sleep jobs, every /gradio_api request counted over 20 s. The browser sent the 13
backend load events (10 by run/predict, 3 queued), 8 `.change` events once each (the job-following
States of four panels, the four chat-pane model dropdowns), then only two timers: the status bar (fn of
`status-text`, run/predict) every 2.0 s and the job drawer (`drawer-job`, queued) every 1.5 s; no timer
of a hidden tab (e.g. the jobs table) ticked. A simulated page sends the same events at the same rates
(the report's "events sent per page" and "per minute of polling" show them). Also checked in Chromium: the
Data page's flow sends the rail click, then POST /gradio_api/upload, the `data-upload` upload event, the
`.change` of the loaded-dataset State (fills `data-grid`), the `data-apply-edits` click, and a status
poke 1.5 s after each click; the editor sends the same. Not simulated: the viewers' clicks, heartbeats,
the static assets (JS/CSS/fonts) a browser fetches with the page.

It reports p50/p95 latency of the status-bar update ("status bar"), of every other event, and of a grid
edit ("grid edit"); the server's CPU and memory over time (psutil, sampled every few seconds: start, max,
end, mean per minute and a least-squares trend in MB/min); how many events each page sent per minute; and
every error (exit 1 if any, also when no status-bar update or no grid edit was measured). A request or
a result stream (GET /gradio_api/queue/data) whose reused keep-alive connection the server had just
closed (reset before any answer) is sent again once, as a browser does, and counted as a retried
connection reset; a stream that breaks after it was answered is an error ("stream: ..."). Every loop is
bounded by the deadline (--minutes of polling after the last page loaded, loading itself capped at
60 s + 0.5 s a session) and by --max-requests; the script stops the server and the jobs it started.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
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
        self.fired: dict[str, int] = {}  # label -> events sent, all pages together
        self.poll_minutes: list[float] = []  # how long each page polled its timers
        self.limit = limit
        self.deadline = deadline

    def more(self) -> bool:
        return self.requests < self.limit and time.time() < self.deadline

    def add(self, label: str, seconds: float) -> None:
        self.lat.setdefault(label, []).append(seconds)
        self.when.setdefault(label, []).append(time.time())

    def merge_fired(self, fired: dict) -> None:
        for label, n in fired.items():
            self.fired[label] = self.fired.get(label, 0) + n

    def error(self, text: str) -> None:
        if len(self.errors) < 200:
            self.errors.append(text[:300])


class Layout:
    """The root page ("/") of the config: its components and backend events, and which timers a browser mounts.

    The config holds every page of the app (the other language is a second route); a browser on "/" runs
    only this page's events. Events with no backend fn are js-only: the browser runs them itself and never
    calls the server for them. A gr.Timer inside a tab that is not selected is not mounted, so it never
    ticks (checked with Chromium: see the module docstring); timers outside the tabs and in the selected one do.
    """

    def __init__(self, config: dict, page: str = ""):
        scope = (config.get("page") or {}).get(page) or {}
        comp_ids = set(scope.get("components") or [c["id"] for c in config["components"]])
        dep_ids = set(scope.get("dependencies") or [d["id"] for d in config["dependencies"]])
        self.components = {c["id"]: c for c in config["components"] if c["id"] in comp_ids}
        self.deps = [dict(d, targets=[list(t) for t in d.get("targets", [])]) for d in config["dependencies"]
                     if d["id"] in dep_ids and d.get("backend_fn")]  # targets as lists, as in the JSON
        self.mounted = self._mounted(scope.get("layout") or config.get("layout") or {})

    def _mounted(self, node: dict) -> set:
        out, todo = set(), [node]
        while todo:
            n = todo.pop()
            out.add(n.get("id"))
            kids = n.get("children") or []
            comp = self.components.get(n.get("id"), {})
            if comp.get("type") == "tabs":
                selected = comp.get("props", {}).get("selected")
                ids = [self.components.get(k["id"], {}).get("props", {}).get("id") for k in kids]
                keep = ids.index(selected) if selected in ids else 0
                kids = kids[keep:keep + 1]
            todo.extend(kids)
        return out

    def elem(self, elem_id: str) -> int | None:
        return next((cid for cid, c in self.components.items() if c.get("props", {}).get("elem_id") == elem_id), None)

    def on(self, target: int | None, event: str) -> list[dict]:
        return [d for d in self.deps if [target, event] in d.get("targets", [])]

    def after(self, dep_id: int) -> list[dict]:
        return [d for d in self.deps if d.get("trigger_after") == dep_id]

    def label(self, dep: dict) -> str:
        names = [self.components.get(o, {}).get("props", {}).get("elem_id") for o in dep.get("outputs", [])]
        named = [n for n in names if n]
        if "status-text" in named:
            return "status bar"
        return named[0] if named else f"fn{dep['id']}"

    def timers(self) -> dict[int, float]:
        """Timer id -> interval, for every mounted timer that has a backend tick."""
        return {cid: float(c.get("props", {}).get("value") or 1.0) for cid, c in self.components.items()
                if c.get("type") == "timer" and cid in self.mounted and self.on(cid, "tick")}

    def wanted(self, dep: dict, wanted: str) -> bool:
        if wanted == "all":
            return True
        names = set(wanted.replace("studio-status", "status bar").split(","))
        outs = {self.components.get(o, {}).get("props", {}).get("elem_id") for o in dep.get("outputs", [])}
        return bool(names & (outs | {self.label(dep)}))


class Page:
    """What a browser keeps for one open tab: its session hash, the component values, which timers are on.

    After an event the browser applies its outputs; a `gr.Timer(active=...)` output switches that timer
    on or off; a changed value (or a server-side State listed in `changed_state_ids`) fires the `.change`
    events that listen to it, and a success fires the event's `.then` events. This class does the same.
    """

    def __init__(self, client: httpx.AsyncClient, layout: Layout, stats: Stats):
        self.client = client
        self.layout = layout
        self.stats = stats
        self.hash = secrets.token_hex(6)
        # a component the config gives no value starts "undefined" in the browser: its first value is a change
        self.values = {cid: c["props"]["value"] for cid, c in layout.components.items() if "value" in c.get("props", {})}
        self.active = {cid: bool(c.get("props", {}).get("active", True)) for cid, c in layout.components.items()
                       if c.get("type") == "timer"}
        self.pending: dict[str, asyncio.Future] = {}  # event id -> its result, filled by the stream reader
        self.early: dict[str, asyncio.Future] = {}  # results that arrived before their join answered
        self.reader: asyncio.Task | None = None
        self.busy: set[int] = set()  # events in flight (trigger_mode "once": a new trigger is dropped)
        self.follow: list[asyncio.Task] = []  # change/then events started by results
        self.fired: dict[str, int] = {}  # label -> events sent

    def inputs(self, dep: dict, overrides: dict | None = None) -> list:
        out = []
        for cid in dep.get("inputs", []):
            if overrides and cid in overrides:
                out.append(overrides[cid])
            elif self.layout.components.get(cid, {}).get("type") == "state":
                out.append(None)  # State lives on the server; the browser sends a placeholder
            else:
                out.append(self.values.get(cid))
        return out

    def apply(self, dep: dict, data: list, changed_states: list) -> list[int]:
        """Store the outputs; return the components whose value changed (they fire `.change`)."""
        changed = list(changed_states or [])
        for cid, value in zip(dep.get("outputs", []), data or []):
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "active" in value and cid in self.active:
                    self.active[cid] = bool(value["active"])
                if "value" not in value:
                    continue
                value = value["value"]
            if self.layout.components.get(cid, {}).get("type") == "timer":
                continue
            if cid not in self.values or value != self.values[cid]:
                changed.append(cid)
            self.values[cid] = value
        return changed

    async def fire(self, dep: dict, trigger, label: str, overrides: dict | None = None, depth: int = 0) -> bool:
        """One event as the browser sends it; records its latency; True on success."""
        if not self.stats.more() or dep["id"] in self.busy:
            return False
        self.stats.requests += 1
        self.fired[label] = self.fired.get(label, 0) + 1
        body = {"data": self.inputs(dep, overrides), "fn_index": dep["id"], "trigger_id": trigger,
                "session_hash": self.hash, "event_data": None}
        self.busy.add(dep["id"])
        start = time.perf_counter()
        try:
            result = await self._fire(dep, body, label, start)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # the server closed an idle keep-alive connection just as it was reused; a browser retries too
            self.stats.retries += 1
            start = time.perf_counter()
            try:
                result = await self._fire(dep, body, label, start)
            except (httpx.HTTPError, ValueError) as exc:
                self.stats.error(f"{label}: {type(exc).__name__}: {exc}")
                result = None
        except (httpx.HTTPError, ValueError) as exc:
            self.stats.error(f"{label}: {type(exc).__name__}: {exc}")
            result = None
        finally:
            self.busy.discard(dep["id"])
        if result is None:
            return False
        self._follow_up(dep, *result, depth)
        return True

    def _follow_up(self, dep: dict, data: list, changed_states: list, depth: int) -> None:
        if depth >= 4:
            return
        for cid in self.apply(dep, data, changed_states):
            for nxt in self.layout.on(cid, "change"):
                self.follow.append(asyncio.create_task(
                    self.fire(nxt, cid, f"change: {self.layout.label(nxt)}", depth=depth + 1)))
        for nxt in self.layout.after(dep["id"]):
            self.follow.append(asyncio.create_task(
                self.fire(nxt, None, f"then: {self.layout.label(nxt)}", depth=depth + 1)))

    async def settle(self, timeout: float = 60) -> None:
        """Wait for the change/then events started so far (and the ones they start)."""
        end = time.time() + timeout
        while self.follow and time.time() < end:
            tasks, self.follow = self.follow, []
            await asyncio.wait(tasks, timeout=max(0.1, end - time.time()))

    async def _fire(self, dep: dict, body: dict, label: str, start: float) -> tuple[list, list] | None:
        if not dep.get("queue", True):
            resp = await self.client.post("/gradio_api/run/predict", json=body)
            if resp.status_code != 200:
                self.stats.error(f"{label}: HTTP {resp.status_code} {resp.text[:120]}")
                return None
            out = resp.json()
        else:
            out = await self._queued(body, label)
            if out is None:
                return None
        self.stats.add(label, time.perf_counter() - start)
        return out.get("data"), out.get("changed_state_ids") or []

    async def _queued(self, body: dict, label: str) -> dict | None:
        """Join the queue; the page's one SSE stream (as in the browser) delivers the result by event id."""
        join = await self.client.post("/gradio_api/queue/join", json=body)
        if join.status_code != 200:
            self.stats.error(f"{label}: join HTTP {join.status_code} {join.text[:120]}")
            return None
        event_id = join.json().get("event_id")
        future = self.early.pop(event_id, None) or asyncio.get_running_loop().create_future()
        self.pending[event_id] = future
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read_stream())
        try:
            msg = await asyncio.wait_for(future, 60)
        except asyncio.TimeoutError:
            self.stats.error(f"{label}: no result within 60 s")
            return None
        finally:
            self.pending.pop(event_id, None)
        if not msg.get("success", False):
            self.stats.error(f"{label}: failed: {str(msg.get('output'))[:160]}")
            return None
        return msg.get("output") or {}

    async def _read_stream(self) -> None:
        resets = 0
        while self.pending and time.time() < self.stats.deadline + 60:
            opened = False
            try:
                async with self.client.stream("GET", "/gradio_api/queue/data",
                                              params={"session_hash": self.hash}) as stream:
                    opened, resets = True, 0
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
            except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
                if opened or resets:  # broke once open (results may be lost), or a second time: an error
                    self.stats.error(f"stream: {type(exc).__name__}{' (before any answer)' if not opened else ''}: "
                                     f"{exc}")
                    await asyncio.sleep(1)
                else:  # an idle keep-alive connection closed as it was reused: a browser retries the GET once
                    self.stats.retries += 1
                    resets += 1
            except httpx.HTTPError as exc:
                self.stats.error(f"stream: {type(exc).__name__}: {exc}")
                await asyncio.sleep(1)


async def login(url: str, user: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=16))
    resp = await client.post("/login", data={"username": user, "password": password})
    resp.raise_for_status()
    return client


async def open_page(client: httpx.AsyncClient, stats: Stats, config_box: dict) -> Page:
    """GET / and /config, then the page's backend load events, as the browser does on opening the page."""
    start = time.perf_counter()
    page_html = await client.get("/", headers={"accept": "text/html"})
    config = (await client.get("/config")).json()
    stats.add("page load (/ and /config)", time.perf_counter() - start)
    if page_html.status_code != 200:
        stats.error(f"page: HTTP {page_html.status_code}")
    config_box.setdefault("config", config)
    page = Page(client, Layout(config), stats)
    loads = [d for d in page.layout.deps if any(e == "load" for _t, e in d.get("targets", []))]
    await asyncio.gather(*(page.fire(d, None, "page load events") for d in loads))
    await page.settle()
    return page


async def session(url, creds, stats: Stats, config_box: dict, wanted: str, stagger: float) -> None:
    await asyncio.sleep(stagger)
    client = await login(url, *creds)
    try:
        page = await open_page(client, stats, config_box)
        stats.loaded += 1
        if stats.loaded == stats.sessions:
            stats.all_loaded = time.time()
            stats.deadline = min(stats.deadline, stats.all_loaded + stats.poll_s)
        await ticks(page, wanted)
        stats.merge_fired(page.fired)
    finally:
        await client.aclose()


async def ticks(page: Page, wanted: str) -> None:
    """Fire every mounted, active timer at its interval, as the browser's setInterval does, until the deadline.

    A timer switched on by a result starts ticking one interval later; one switched off stops. A tick whose
    previous event is still running is dropped (trigger_mode "once"), as in the browser."""
    timers = page.layout.timers()
    began = time.time()
    due: dict[int, float] = {}
    running: list[asyncio.Task] = []
    while page.stats.more():
        now = time.time()
        for tid, every in timers.items():
            if not page.active.get(tid):
                due.pop(tid, None)
                continue
            if tid not in due:
                due[tid] = now + every
            elif now >= due[tid]:
                due[tid] = max(due[tid] + every, now)
                for dep in page.layout.on(tid, "tick"):
                    if page.layout.wanted(dep, wanted):
                        running.append(asyncio.create_task(page.fire(dep, tid, page.layout.label(dep))))
        running = [t for t in running if not t.done()]
        await asyncio.sleep(0.1)
    page.stats.poll_minutes.append((time.time() - began) / 60)
    if running:
        await asyncio.wait(running, timeout=65)
    await page.settle()


def grid_rows(value) -> list:
    return value.get("data") or [] if isinstance(value, dict) else []


async def editor(url, creds, stats: Stats, data_file: Path, every: float, config_box: dict,
                 wanted: str) -> None:
    """One more person: opens the page (its timers tick too), uploads a CSV on the Data page, then edits a
    cell of the grid and applies the edit, again and again; every edit is read back from the result."""
    client = await login(url, *creds)
    try:
        page = await open_page(client, stats, config_box)
        background = asyncio.create_task(ticks(page, wanted))
        try:
            await edit_loop(page, client, stats, data_file, every)
        finally:
            await background
            stats.merge_fired(page.fired)
    finally:
        await client.aclose()


async def edit_loop(page: Page, client, stats: Stats, data_file: Path, every: float) -> None:
    lay = page.layout
    upload_id, grid_id, apply_id = (lay.elem(e) for e in ("data-upload", "data-grid", "data-apply-edits"))
    if None in (upload_id, grid_id, apply_id):
        stats.error("editor: the page has no data-upload / data-grid / data-apply-edits component")
        return
    on_upload, on_apply = lay.on(upload_id, "upload"), lay.on(apply_id, "click")
    if not on_upload or not on_apply:
        stats.error("editor: no backend event for the data-upload upload or the data-apply-edits click")
        return
    await click(page, "rail-data", "nav: Data")  # the person opens the Data page first
    await status_poke(page)
    start = time.perf_counter()
    with data_file.open("rb") as f:
        resp = await client.post("/gradio_api/upload", files={"files": (data_file.name, f, "text/csv")})
    if resp.status_code != 200:
        stats.error(f"editor: upload HTTP {resp.status_code} {resp.text[:120]}")
        return
    path = resp.json()[0]
    page.values[upload_id] = {"path": path, "orig_name": data_file.name, "size": data_file.stat().st_size,
                              "mime_type": "text/csv", "meta": {"_type": "gradio.FileData"}}
    if not await page.fire(on_upload[0], upload_id, "dataset upload"):
        return
    await page.settle()  # the loaded-dataset token changes -> the grid fills (a .change event)
    stats.add("upload + open (until the grid shows it)", time.perf_counter() - start)
    n = 0
    while stats.more():
        rows = grid_rows(page.values.get(grid_id))
        if not rows:
            stats.error(f"editor: the grid holds no rows after the upload ({str(page.values.get(grid_id))[:100]})")
            return
        n += 1
        edited = json.loads(json.dumps(page.values[grid_id]))
        row = n % len(rows)
        text = f"edited answer {n}"
        edited["data"][row][-1] = text
        began = time.time()
        poke = asyncio.create_task(status_poke(page))  # every real click also asks for a status refresh
        if await page.fire(on_apply[0], apply_id, "grid edit", overrides={grid_id: edited}):
            back = grid_rows(page.values.get(grid_id))
            if len(back) <= row or back[row][-1] != text:
                stats.error(f"grid edit {n}: the grid read back does not hold the edit (row {row}: "
                            f"{str(back[row] if len(back) > row else None)[:80]})")
        await page.settle(10)
        await asyncio.sleep(max(0.0, every - (time.time() - began)))
        await poke


async def click(page: Page, elem_id: str, label: str) -> None:
    """A click on a button: its backend events, with what their results start."""
    cid = page.layout.elem(elem_id)
    for dep in page.layout.on(cid, "click") if cid is not None else []:
        await page.fire(dep, cid, label)
    await page.settle(10)


async def status_poke(page: Page, delay: float = 1.5) -> None:
    """shell/status.py POKE_JS: a trusted click anywhere clicks the hidden `status-poke` button 1.5 s later."""
    await asyncio.sleep(delay)
    await click(page, "status-poke", "status poke (after a click)")


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
    # the polling lasts --minutes after the last page has loaded; loading gets at most `load_cap` seconds
    load_cap = 60 + args.sessions * 0.5
    stats = Stats(args.max_requests or int(args.sessions * args.minutes * 60 * 4 + 1000),
                  time.time() + load_cap + args.minutes * 60)
    stats.sessions, stats.loaded, stats.poll_s = args.sessions, 0, args.minutes * 60
    samples: list[dict] = []
    config_box: dict = {}
    creds = ("bench", password)
    tasks = [session(url, creds, stats, config_box, args.timers, i * 0.05) for i in range(args.sessions)]
    tasks.append(editor(url, creds, stats, data_file, args.edit_every, config_box, args.timers))
    tasks.append(monitor(server_pid, stats, samples))
    try:
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                                         stats.deadline - time.time() + 120)
    except asyncio.TimeoutError:
        results = [TimeoutError("the run did not end within two minutes of its deadline")]
    for r in results:
        if isinstance(r, BaseException):
            stats.error(f"task: {type(r).__name__}: {r}")
    if "status bar" not in stats.lat and args.timers == "all":
        stats.error("no status-bar update was measured although two jobs ran (its timer never became active)")
    if "grid edit" not in stats.lat:
        stats.error("no grid edit was measured")
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
              "second_half_mean_mb": round(statistics.mean(rss[half:]), 1) if half else None,
              "per_minute_mean_mb": per_minute(samples), "slope_mb_per_min": slope(samples)}
    cpu = [s["cpu_percent"] for s in samples]
    timers_found = []
    if config:
        lay = Layout(config)
        for tid, every in lay.timers().items():
            timers_found += [f"{lay.label(d)} ({every:g} s)" for d in lay.on(tid, "tick") if lay.wanted(d, args.timers)]
    pages = args.sessions + 1
    per_page = {k: round(v / pages, 1) for k, v in sorted(stats.fired.items())}
    polled = sum(stats.poll_minutes)
    per_min = {k: round(v / polled, 1) for k, v in sorted(stats.fired.items())} if polled else {}
    return {"sessions": args.sessions, "minutes": args.minutes, "requests": stats.requests,
            "timers_per_page": timers_found, "events_per_page": per_page,
            "events_per_page_per_minute_of_polling": per_min,
            "polling_minutes_per_page": round(polled / pages, 2), "latency": lat, "server_memory": memory,
            "server_cpu_percent": {"mean": round(statistics.mean(cpu), 1) if cpu else None,
                                   "max": max(cpu) if cpu else None},
            "bench_client_cpu_percent_mean": round(statistics.mean(
                [s["bench_client_cpu_percent"] for s in samples]), 1) if samples else None,
            "samples": samples, "errors": len(stats.errors), "retried_connection_resets": stats.retries, "error_examples": stats.errors[:10],
            "machine": {"cpus": psutil.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}}


def per_minute(samples: list[dict]) -> list[float]:
    """Mean server RSS of each minute of the run: the trend that says whether memory stays flat."""
    buckets: dict[int, list[float]] = {}
    for s in samples:
        buckets.setdefault(int(s["t"] // 60), []).append(s["rss_mb"])
    return [round(statistics.mean(v), 1) for _k, v in sorted(buckets.items())]


def slope(samples: list[dict]) -> float | None:
    """Least-squares growth of the server RSS in MB per minute over the run (flat: near 0)."""
    if len(samples) < 3:
        return None
    t = [s["t"] / 60 for s in samples]
    y = [s["rss_mb"] for s in samples]
    mt, my = statistics.mean(t), statistics.mean(y)
    var = sum((a - mt) ** 2 for a in t)
    return round(sum((a - mt) * (b - my) for a, b in zip(t, y)) / var, 2) if var else None


def summary(rep: dict) -> str:
    lines = [f"{rep['sessions']} sessions, {rep['minutes']} min, {rep['requests']} requests, "
             f"{rep['errors']} errors ({rep['retried_connection_resets']} connection resets retried); "
             f"timers on the page (mounted; each ticks while a result keeps it active): "
             f"{', '.join(rep['timers_per_page'])}",
             "  events sent per page: " + ", ".join(f"{k} {v}" for k, v in rep["events_per_page"].items()),
             f"  per minute of polling ({rep['polling_minutes_per_page']} min a page): "
             + ", ".join(f"{k} {v}" for k, v in rep["events_per_page_per_minute_of_polling"].items())]
    for label, s in rep["latency"].items():
        lines.append(f"  {label:28s} n={s['count']:5d}  p50={s['p50_s']}s  p95={s['p95_s']}s  max={s['max_s']}s"
                     f"  | after all pages loaded: n={s['steady_count']} p50={s['steady_p50_s']}s "
                     f"p95={s['steady_p95_s']}s")
    m, c = rep["server_memory"], rep["server_cpu_percent"]
    lines.append(f"  server memory: start {m['start_mb']} MB, max {m['max_mb']} MB, end {m['end_mb']} MB "
                 f"(means {m['first_half_mean_mb']} -> {m['second_half_mean_mb']} MB; per minute "
                 f"{m['per_minute_mean_mb']}; trend {m['slope_mb_per_min']} MB/min); "
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
    steps = int((60 + args.sessions * 0.5 + args.minutes * 60 + 180) / 0.5)  # outlasts loading and polling
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
