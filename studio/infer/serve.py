"""The `serve` job: load a model (+ adapters) into an engine and serve it over HTTP until cancelled.

Spec: {"model": name, "adapters": {name: folder}, "engine": "auto"|"transformers"|"vllm",
"device": "auto", "dtype": "auto"}. The address and token land in `server.json` (mode 0600) in the
job folder; the Chat tab reads it from there.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from ..atomic import write_json
from ..errors import JobCancelled

SERVER_FILE = "server.json"


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def run_job(ctx) -> dict:
    import uvicorn

    from ..models import resolve
    from . import engines
    from .server import build_app

    spec = ctx.spec
    engine_name = spec.get("engine") or "auto"
    ctx.progress(0.05, f"Preparing {spec['model']}", phase="setup")
    ref = resolve(spec["model"], progress=lambda f, m: ctx.progress(None, m, phase="setup"))
    ctx.progress(0.2, f"Starting the {engines.default_engine() if engine_name == 'auto' else engine_name} engine",
                 phase="setup")
    engine = engines.build(engine_name, str(ref.path), spec)
    for i, (name, path) in enumerate((spec.get("adapters") or {}).items()):
        ctx.progress(0.6 + 0.3 * i / max(1, len(spec["adapters"])), f"Loading adapter {name}", phase="setup")
        engine.add_adapter(name, path)
    token = secrets.token_urlsafe(24)
    sock = _socket()
    port = sock.getsockname()[1]
    info = {"url": f"http://127.0.0.1:{port}/v1", "port": port, "engine": engine.name, "model": spec["model"],
            "adapters": engine.adapters(), "pid": os.getpid()}
    path = Path(ctx.run_dir) / SERVER_FILE
    write_json(path, dict(info, token=token))
    os.chmod(path, 0o600)
    ctx.events.progress(1.0, f"Serving {spec['model']} with {engine.name} on port {port}", phase="serving",
                        engine=engine.name, force=True)
    ctx.events.log(f"serving on {info['url']}")
    server = uvicorn.Server(uvicorn.Config(build_app(engine, token, spec["model"]), log_level="warning",
                                           access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        engine.close()
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    raise JobCancelled()  # a server only stops when it is asked to


def server_info(run_dir: str | Path) -> dict | None:
    import json

    try:
        return json.loads((Path(run_dir) / SERVER_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
