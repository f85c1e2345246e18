"""Starting the studio: flags, authentication, and the security settings of the web server.

Binds to 127.0.0.1 by default. A share link or a non-loopback address never opens without
authentication: with no --auth the studio makes a strong password and prints it once. Logins are
rate-limited per user name; the server serves no file outside the workspace.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from ..errors import StudioError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Gradio's queue records every queued event (up to GRADIO_ANALYTICS_MAX_EVENTS, 10,000 by default) and after
# each one rebuilds a pandas summary of all the records for its monitoring dashboard, which the studio never
# turns on (enable_monitoring=False). With 50 open tabs that was 33 rebuilds a second at about 10 ms each
# (10,000 records) and a record that grew for five minutes: keep 100 records and never rebuild the summary.
QUEUE_ENV = {"GRADIO_ANALYTICS_MAX_EVENTS": "100", "GRADIO_ANALYTICS_CACHE_FREQUENCY": str(10**9)}
# Gradio keeps every browser session's state (a copy of the config of every component: about 2.7 MB for
# this app's 1,700 components) until `state_session_capacity` newer sessions exist (10,000 by default:
# every page load adds one, a closed tab's stays). Keep the most recently used 300: a tab that is open
# polls every few seconds and stays among them; an idle tab pushed out by 300 newer ones starts afresh.
MAX_SESSIONS = 300
# glibc gives every thread that allocates its own malloc arena (up to 8 per core), and Gradio answers events on
# a pool of worker threads: capped at two so that memory one thread frees is reused by the others. This was
# not what made the server grow under load (+13 MB/min with the cap): that was Gradio keeping one more copy of
# an updated component per tick in every polling session (session_copies.py; found with gc counts by type and
# mallinfo2 under bench/load.py: the growth was live Python objects, not free heap space). Not measured alone.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(environ=os.environ) -> bool:
    """Cap glibc's malloc arenas for this process (see MALLOC_ARENAS); an operator's MALLOC_ARENA_MAX wins.
    Call before any thread starts. False where the C library is not glibc."""
    if environ.get("MALLOC_ARENA_MAX"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="launch.py", description="Start Tune Studio in the browser.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("STUDIO_PORT", 7860)))
    p.add_argument("--workspace", help="workspace folder (default: $STUDIO_WORKSPACE or ~/tune-studio)")
    p.add_argument("--lang", choices=["en", "zh"], default=os.environ.get("STUDIO_LANG", "en"))
    p.add_argument("--share", action="store_true", help="make a public share link (always password-protected)")
    p.add_argument("--auth", help="USER:PASSWORD required to open the studio")
    p.add_argument("--auth-file", help="file with one USER:PASSWORD per line")
    p.add_argument("--max-upload", default="200mb", help="largest upload (default 200mb)")
    return p.parse_args(argv)


def read_credentials(args) -> list[tuple[str, str]]:
    creds: list[tuple[str, str]] = []
    lines: list[tuple[str, str]] = []
    if args.auth:
        lines.append(("--auth", args.auth))
    if args.auth_file:
        path = Path(args.auth_file)
        if not path.is_file():
            raise StudioError(key="security.auth_file_missing", path=str(path))
        lines += [(f"{path}:{i}", line.strip()) for i, line in enumerate(path.read_text().splitlines(), 1)
                  if line.strip() and not line.startswith("#")]
    for where, line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise StudioError(key="security.bad_credentials", where=where)
        creds.append((user, password))
    return creds


class RateLimitedAuth:
    """Checks passwords in constant time and locks a user name out after repeated failures."""

    def __init__(self, creds: list[tuple[str, str]], max_failures: int = 5, lockout_s: float = 60.0):
        self._creds = dict(creds)
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.max_failures = max_failures
        self.lockout_s = lockout_s

    def __call__(self, username: str, password: str) -> bool:
        now = time.time()
        with self._lock:
            recent = [t for t in self._failures.get(username, []) if now - t < self.lockout_s]
            self._failures[username] = recent
            if len(recent) >= self.max_failures:
                return False
        expected = self._creds.get(username, "")
        ok = bool(expected) and secrets.compare_digest(expected.encode(), (password or "").encode())
        if not ok:
            with self._lock:
                self._failures.setdefault(username, []).append(now)
        return ok


def security_settings(args, creds: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], str | None]:
    """Credentials to use, and a generated password to print (when sharing without --auth)."""
    exposed = args.share or args.host not in LOOPBACK
    if exposed and not creds:
        password = secrets.token_urlsafe(18)
        return [("studio", password)], password
    return creds, None


def gate_kwargs(creds: list[tuple[str, str]], lang: str = "en") -> dict:
    """`launch()` arguments that put the whole app behind the login gate (see `login.py`).

    With credentials, Gradio builds its FastAPI app with our middleware in front of every route and
    with no OpenAPI/docs routes; Gradio learns the user from the same signed cookie. Without
    credentials (loopback only) the app is open, as before, but still without the API schema routes.
    """
    from starlette.middleware import Middleware

    from .login import LoginGate, Sessions

    app_kwargs: dict = {"openapi_url": None, "docs_url": None, "redoc_url": None}
    if not creds:
        return {"app_kwargs": app_kwargs}
    sessions = Sessions()
    app_kwargs["middleware"] = [Middleware(LoginGate, check=RateLimitedAuth(creds), sessions=sessions, lang=lang)]
    return {"app_kwargs": app_kwargs, "auth_dependency": sessions.from_request}


def quiet_queue(environ=os.environ) -> None:
    """Set `QUEUE_ENV` (unless already set): Gradio reads it when `demo.queue()` makes the queue."""
    for key, value in QUEUE_ENV.items():
        environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> int:
    limit_malloc_arenas()
    args = parse_args(argv)
    try:
        creds, generated = security_settings(args, read_credentials(args))
        from ..jobs import JobManager
        from ..workspace import Workspace

        workspace = Workspace.open(args.workspace)
    except StudioError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    os.environ["STUDIO_WORKSPACE"] = str(workspace.root)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from .app import build_app, css, start_scheduler
    from .session_copies import keep_session_copy_ids

    manager = JobManager(workspace)
    start_scheduler(manager)
    demo = build_app(workspace, manager, args.lang)
    if generated:
        print(f"Sign in as user 'studio' with password: {generated}", flush=True)
    quiet_queue()
    keep_session_copy_ids()
    demo.queue(default_concurrency_limit=8)
    gate = gate_kwargs(creds, args.lang)
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share,
        allowed_paths=[], blocked_paths=[str(Path.home() / ".ssh")], max_file_size=args.max_upload,
        enable_monitoring=False, state_session_capacity=MAX_SESSIONS, show_error=True, inbrowser=False, quiet=False, ssr_mode=False,
        css=css(), theme=_theme(), prevent_thread_lock=True, **gate,
    )
    # the upload parser's worker (pandas, openpyxl, pyarrow) warms up once the page is served: on a
    # 2-core machine, warming it during start-up delayed the first page by about a second
    from ..data.readers import warm_parser

    threading.Thread(target=warm_parser, name="parse-worker-warm", daemon=True).start()
    demo.block_thread()
    return 0


def _theme():
    import gradio as gr

    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate")
