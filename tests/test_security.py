"""Sharing never opens without auth, logins are rate-limited, no file outside the workspace is served."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from browser import ROOT, free_port, studio_server
from studio.errors import StudioError
from studio.ui.launch import RateLimitedAuth, parse_args, read_credentials, security_settings
from studio.workspace import Workspace


def test_share_without_auth_generates_a_strong_password():
    args = parse_args(["--share"])
    creds, generated = security_settings(args, read_credentials(args))
    assert generated and len(generated) >= 20
    assert creds == [("studio", generated)]


def test_non_loopback_host_requires_auth():
    args = parse_args(["--host", "0.0.0.0"])
    creds, generated = security_settings(args, read_credentials(args))
    assert creds and generated


def test_loopback_without_share_needs_no_password():
    args = parse_args([])
    assert security_settings(args, read_credentials(args)) == ([], None)


def test_auth_flags_are_checked(tmp_path):
    with pytest.raises(StudioError, match="expected USER:PASSWORD"):
        read_credentials(parse_args(["--auth", "nocolon"]))
    path = tmp_path / "users.txt"
    path.write_text("# team\nann:pw1\nbob:pw2\n")
    assert read_credentials(parse_args(["--auth-file", str(path)])) == [("ann", "pw1"), ("bob", "pw2")]
    with pytest.raises(StudioError, match="file not found"):
        read_credentials(parse_args(["--auth-file", str(tmp_path / "missing")]))


def test_logins_lock_out_after_repeated_failures():
    auth = RateLimitedAuth([("ann", "right")], max_failures=3, lockout_s=60)
    assert auth("ann", "right")
    for _ in range(3):
        assert not auth("ann", "wrong")
    assert not auth("ann", "right")  # locked out even with the right password
    assert not auth("nobody", "")


def test_workspace_refuses_paths_outside_it(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    assert ws.inside("datasets") == ws.root / "datasets"
    for bad in ("../secret", "/etc/passwd", "datasets/../../x"):
        with pytest.raises(StudioError, match="outside the workspace"):
            ws.inside(bad)


def test_share_flag_prints_the_generated_password_once(tmp_path):
    """`launch.py --share` on a machine with no internet: it must still require the password it prints."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--workspace", str(tmp_path / "ws"), "--port",
                             str(port), "--host", "0.0.0.0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Running on" in line or proc.poll() is not None:
                break
        text = "".join(lines)
        assert text.count("password:") == 1, text
        resp = httpx.get(f"http://127.0.0.1:{port}/config", timeout=10)
        assert resp.status_code in (401, 403) or "auth_required" in resp.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_server_serves_no_file_outside_the_workspace(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    with studio_server(tmp_path / "ws") as (url, _proc):
        for route in (f"/gradio_api/file={secret}", f"/file={secret}", "/gradio_api/file=/etc/passwd",
                      f"/gradio_api/file=../../{secret.name}", "/monitoring"):
            resp = httpx.get(url + route, timeout=10)
            assert "top secret" not in resp.text and "root:" not in resp.text, route
            assert resp.status_code >= 400, (route, resp.status_code)
