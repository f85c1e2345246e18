"""The login gate: before a visitor signs in, the server answers with the login page and nothing else.

Gradio's built-in auth still serves the app page (with `gradio_api_info`: every endpoint and the
workspace paths in component values), `/config` parts and some `gradio_api` routes to anonymous
visitors. So the studio puts an ASGI middleware in front of the whole Gradio app (passed through
FastAPI's own `middleware=` when Gradio builds its app) that lets a request through only with a
valid signed session cookie; everything else gets the login page (`GET /`), a 401 (any other HTTP
route) or a closed socket. Gradio itself is told the user through `auth_dependency`, so its own
checks (`/config`, `/user`) agree with the gate.

`POST /login` takes the same form fields as Gradio's login (`username`, `password`), so
`gradio_client.Client(url, auth=(user, password))` works unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from .. import i18n

COOKIE = "studio-session"
PUBLIC = ("/login", "/login/", "/logout", "/logout/")
MAX_BODY = 8192
STARTUP = "/gradio_api/startup-events"
LOOPBACK = ("127.0.0.1", "::1")


class Sessions:
    """Signed session tokens `user.expiry.mac` (HMAC-SHA256 with a key made at server start)."""

    def __init__(self, max_age_s: float = 24 * 3600, key: bytes | None = None):
        self.key = key or secrets.token_bytes(32)
        self.max_age_s = max_age_s

    def _mac(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, user: str) -> str:
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        payload = f"{name}.{int(time.time() + self.max_age_s)}"
        return f"{payload}.{self._mac(payload)}"

    def user(self, token: str | None) -> str | None:
        """The signed-in user of `token`, or None when it is missing, forged or expired."""
        if not token or token.count(".") != 2:
            return None
        name, expiry, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(f"{name}.{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) < time.time():
            return None
        try:
            return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def from_cookie_header(self, header: str) -> str | None:
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return self.user(value)
        return None

    def from_request(self, request) -> str | None:
        """Gradio's `auth_dependency`: the user of a FastAPI request, or None."""
        return self.user(request.cookies.get(COOKIE))


def login_page(lang: str, error: str = "") -> str:
    def t(key):
        return html.escape(i18n.text(f"security.login.{key}", lang))
    err = f'<p class="err" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t('title')}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;background:#f4f5fb;
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;color:#1f2433}}
form{{background:#fff;padding:2rem 2.2rem;border-radius:12px;box-shadow:0 4px 24px #0001;width:20rem}}
h1{{font-size:1.3rem;margin:0 0 1.2rem}} label{{display:block;font-size:.9rem;margin:.8rem 0 .3rem}}
input{{width:100%;box-sizing:border-box;padding:.55rem .6rem;border:1px solid #ccd;border-radius:8px;font-size:1rem}}
button{{margin-top:1.3rem;width:100%;padding:.6rem;border:0;border-radius:8px;background:#4f46e5;color:#fff;
font-size:1rem;cursor:pointer}} .err{{color:#b42318;font-size:.9rem}}
</style></head><body>
<form method="post" action="login" autocomplete="on">
<h1>{t('title')}</h1>{err}
<label for="u">{t('user')}</label><input id="u" name="username" autocomplete="username" required autofocus>
<label for="p">{t('password')}</label>
<input id="p" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{t('submit')}</button>
</form></body></html>"""


class LoginGate:
    """ASGI middleware: only `/login`, `/logout` and requests with a valid session reach the app."""

    def __init__(self, app, check: Callable[[str, str], bool], sessions: Sessions, lang: str = "en"):
        self.app = app
        self.check = check
        self.sessions = sessions
        self.lang = lang
        self._startup_pending = True  # Gradio's launch() calls STARTUP once, itself, without a cookie

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        if scope["type"] == "http" and path in PUBLIC:
            return await self._public(scope, receive, send, headers)
        user = self.sessions.from_cookie_header(headers.get("cookie", ""))
        if user is not None or self._launch_call(scope, path):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        if scope.get("method") == "GET" and "text/html" in headers.get("accept", "") or path in ("/", ""):
            return await _respond(send, 303, b"", [(b"location", _rel(scope, "login"))])
        body = json.dumps({"error": i18n.text("security.login.required", self.lang)}).encode()
        return await _respond(send, 401, body, [(b"content-type", b"application/json")])

    def _launch_call(self, scope, path: str) -> bool:
        """Gradio's own start-up request (once, from this machine); it only answers true/false."""
        if self._startup_pending and path == STARTUP and (scope.get("client") or ("",))[0] in LOOPBACK:
            self._startup_pending = False
            return True
        return False

    async def _public(self, scope, receive, send, headers) -> None:
        lang = _lang(headers.get("accept-language", ""), self.lang)
        if scope["path"].startswith("/logout"):
            return await _respond(send, 303, b"", [(b"location", _rel(scope, "login")),
                                                  (b"set-cookie", _cookie("", scope, 0))])
        if scope.get("method") != "POST":
            return await _html(send, 200, login_page(lang))
        form = parse_qs((await _body(receive)).decode("utf-8", "replace"))
        user = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        wants_html = "text/html" in headers.get("accept", "")
        if not user or not self.check(user, password):
            message = i18n.text("security.login.failed", lang)
            if wants_html:
                return await _html(send, 401, login_page(lang, message))
            return await _respond(send, 401, json.dumps({"error": message}).encode(),
                                  [(b"content-type", b"application/json")])
        cookie = _cookie(self.sessions.issue(user), scope, int(self.sessions.max_age_s))
        if wants_html:
            return await _respond(send, 303, b"", [(b"location", _rel(scope, "./")), (b"set-cookie", cookie)])
        return await _respond(send, 200, b'{"success": true}', [(b"content-type", b"application/json"),
                                                                 (b"set-cookie", cookie)])


def _lang(accept: str, default: str) -> str:
    first = accept.split(",")[0].strip().lower()
    if first.startswith("zh"):
        return "zh"
    if first.startswith("en"):
        return "en"
    return default


def _rel(scope, target: str) -> bytes:
    root = (scope.get("root_path") or "").rstrip("/")
    return f"{root}/{target.lstrip('./')}".encode()


def _cookie(value: str, scope, max_age: int) -> bytes:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}".encode()


async def _body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b""
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _html(send, status: int, text: str) -> None:
    await _respond(send, status, text.encode(), [(b"content-type", b"text/html; charset=utf-8"),
                                                 (b"cache-control", b"no-store")])


async def _respond(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
