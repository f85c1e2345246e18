"""Helpers for browser tests: a real studio server process and headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
SHOTS = ROOT / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def studio_server(workspace: Path, *extra: str, lang: str = "en", env: dict | None = None):
    port = free_port()
    log = open(workspace.parent / f"studio-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--workspace", str(workspace), "--port",
                             str(port), "--lang", lang, *extra], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, **(env or {})), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"studio exited: {(workspace.parent / f'studio-{port}.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("studio did not start within 90 s")
        yield url, proc
    finally:
        try:
            os.killpg(proc.pid, 15)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        log.close()


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required for browser tests: apt-get install chromium "
                    "(scripts/install.sh --test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30000)
        try:
            yield page
        finally:
            browser.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input, #{elem_id} textarea").first
    box.fill(str(value))
    box.press("Tab")


def choose(page, elem_id: str, value: str) -> None:
    """Pick (or type) a value in a Gradio dropdown."""
    box = page.locator(f"#{elem_id} input").first
    box.click()
    box.fill(value)
    option = page.locator("ul[role='listbox'] li", has_text=value)
    if option.count():
        option.first.click()
    else:
        box.press("Enter")
    page.keyboard.press("Escape")
