"""Before login an anonymous visitor gets the login page and nothing else (issue 14, item 1)."""

from __future__ import annotations

import time

import httpx
import pytest
from browser import studio_server

from studio.ui.login import Sessions

ANON_GETS = ["/", "/config", "/gradio_api/info", "/gradio_api/info?all_endpoints=true", "/openapi.json", "/docs",
             "/gradio_api/runs", "/gradio_api/queue/data?session_hash=x", "/gradio_api/heartbeat/x",
             "/gradio_api/file=/etc/passwd", "/theme.css", "/gradio_api/user", "/login_check", "/gradio_api/startup-events",
             "/gradio_api/upload_progress?upload_id=x", "/assets/index.js", "/favicon.ico", "/robots.txt"]
ANON_POSTS = ["/gradio_api/cancel", "/gradio_api/reset", "/gradio_api/queue/join", "/gradio_api/upload",
              "/gradio_api/run/predict", "/gradio_api/call/predict", "/gradio_api/api/predict", "/reset"]


def test_session_tokens_are_signed_and_expire():
    sessions = Sessions(max_age_s=60)
    token = sessions.issue("安娜")
    assert sessions.user(token) == "安娜"
    name, expiry, mac = token.split(".")
    assert sessions.user(f"{name}.{int(expiry) + 999}.{mac}") is None  # a longer life is not accepted
    assert sessions.user(f"YWRtaW4.{expiry}.{mac}") is None  # nor another user's name
    assert Sessions(key=b"x" * 32).user(token) is None  # nor another server's token
    assert Sessions(max_age_s=-1).user(Sessions(max_age_s=-1).issue("ann")) is None
    assert sessions.user("garbage") is None and sessions.user(None) is None


def test_anonymous_client_gets_only_the_login_page(tmp_path):
    ws = tmp_path / "ws"
    with studio_server(ws, "--auth", "ann:s3cret") as (url, _proc):
        workspace = str(ws.resolve())
        with httpx.Client(base_url=url, timeout=30) as client:
            for route in ANON_GETS:
                resp = client.get(route, headers={"accept": "*/*"})
                assert resp.status_code in (303, 401), (route, resp.status_code)
                for leak in ("gradio_api_info", workspace, "components", "openapi", "version"):
                    assert leak not in resp.text, (route, leak)
            for route in ANON_POSTS:
                resp = client.post(route, json={"session_hash": "x", "fn_index": 0, "data": []})
                assert resp.status_code == 401, (route, resp.status_code)
                assert workspace not in resp.text
            page = client.get("/", headers={"accept": "text/html"}, follow_redirects=True)
            assert page.status_code == 200 and 'name="password"' in page.text
            assert "gradio" not in page.text.lower() and workspace not in page.text
            assert "密码" in client.get("/login", headers={"accept-language": "zh-CN"}).text
            bad = client.post("/login", data={"username": "ann", "password": "wrong"})
            assert bad.status_code == 401 and "set-cookie" not in bad.headers
            with httpx.Client(base_url=url, timeout=30, cookies={"studio-session": "YW5u.9999999999.00"}) as other:
                assert other.get("/config").status_code == 401  # a forged session
            # the right password: the app is there, and Gradio knows the user
            ok = client.post("/login", data={"username": "ann", "password": "s3cret"})
            assert ok.status_code == 200 and "studio-session" in ok.cookies
            config = client.get("/config")
            assert config.status_code == 200 and "components" in config.text
            assert client.get("/gradio_api/user").json() == "ann"
            assert client.get("/openapi.json").status_code == 404  # no API schema even after login
            assert client.get("/logout").status_code == 303


def test_gradio_client_needs_the_password(tmp_path):
    from gradio_client import Client

    with studio_server(tmp_path / "ws", "--auth", "ann:s3cret") as (url, _proc):
        with pytest.raises(Exception, match="(?i)login|credentials|401"):
            Client(url, verbose=False)
        with pytest.raises(Exception, match="(?i)invalid credentials|401"):
            Client(url, auth=("ann", "nope"), verbose=False)
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        api = client.view_api(return_format="dict", print_info=False)
        assert api["named_endpoints"] or api["unnamed_endpoints"]


def test_logins_are_rate_limited_over_http(tmp_path):
    with studio_server(tmp_path / "ws", "--auth", "ann:s3cret") as (url, _proc):
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(5):
                assert client.post("/login", data={"username": "ann", "password": "x"}).status_code == 401
            start = time.time()
            locked = client.post("/login", data={"username": "ann", "password": "s3cret"})
            assert locked.status_code == 401 and time.time() - start < 5


@pytest.mark.browser
def test_a_browser_signs_in_and_gets_the_working_app(tmp_path):
    """The real page behind the gate: sign in through the form, then the app renders and its timers answer."""
    from browser import browser_page

    with studio_server(tmp_path / "ws", "--auth", "ann:s3cret") as (url, _proc), browser_page() as page:
        failed = []
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status in (401, 403) else None)
        page.goto(url)
        assert "/login" in page.url
        page.fill("#u", "ann")
        page.fill("#p", "s3cret")
        page.click("button[type=submit]")
        page.wait_for_selector("#studio-rail", timeout=90000)  # the app shell, not the login page
        page.wait_for_function("document.querySelector('#status-text') && "
                               "document.querySelector('#status-text').innerText.trim().length > 0",
                               timeout=60000)
        assert not failed, failed[:5]
