"""The first complete path, clicked through in headless Chromium on the tiny model:
upload data -> choose LoRA + SFT -> train (progress, loss plot) -> chat with base and adapter side by side."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from browser import browser_page, choose, fill, shot, studio_server
from conftest import SAMPLES

pytestmark = pytest.mark.browser


def wait_for(predicate, timeout: float, what: str, every: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def test_first_complete_path(tmp_path, tiny_model):
    workspace = tmp_path / "ws"
    with studio_server(workspace) as (url, _proc), browser_page() as page:
        page.goto(url)
        page.click("#rail-data")
        page.locator("#data-upload input[type=file]").set_input_files(str(SAMPLES / "identity_alpaca.jsonl"))
        page.wait_for_selector("#data-summary:has-text('alpaca')")
        fill(page, "dataset-name", "identity")
        page.click("#save-dataset")
        page.wait_for_selector("#data-saved:has-text('identity')")
        shot(page, "01-data")

        page.click("#rail-method")
        choose(page, "model-name", "tiny-random-llama")
        page.click("#count-params")
        page.wait_for_selector("#trainable-params:has-text('Trainable parameters')", timeout=60000)
        shot(page, "02-method")

        page.click("#rail-train")
        choose(page, "train-dataset", "identity")
        fill(page, "run-name", "browser-run")
        fill(page, "training-max_steps", 12)
        fill(page, "training-learning_rate", 0.005)
        fill(page, "training-batch_size", 4)
        fill(page, "training-max_length", 128)
        fill(page, "training-save_steps", 6)
        page.click("#start-training")
        page.wait_for_selector("#train-message:has-text('runs')")
        run_dir = workspace / "runs" / "browser-run"
        # the live plot moves while the job runs: wait for a few logged steps, then for the end
        wait_for(lambda: (run_dir / "metrics.jsonl").exists() and
                 len((run_dir / "metrics.jsonl").read_text().splitlines()) >= 3, 240, "logged steps")
        page.wait_for_selector("#loss-plot svg path", timeout=30000)
        shot(page, "03-training")
        page.wait_for_selector("#train-progress .job-state[data-state='succeeded']", timeout=300000)
        time.sleep(2)
        shot(page, "04-trained")
        losses = [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
                  if "loss" in r]
        assert losses[-1] < losses[0], losses
        # the plot drew one point per logged loss
        assert page.locator("#loss-plot svg").count() >= 1

        page.click("#rail-chat")
        page.click("#chat-refresh")
        choose(page, "chat-model", "tiny-random-llama")
        page.locator("#chat-adapters label", has_text="browser-run").click()
        page.click("#start-engine")
        page.wait_for_selector("#engine-status:has-text('serving')", timeout=240000)
        page.click("#chat-refresh")
        time.sleep(1)
        choose(page, "pane-1-model", "browser-run")
        fill(page, "chat-prompt", "Who are you?")
        page.click("#chat-send")
        for pane in (0, 1):
            page.wait_for_selector(f"#pane-{pane}-stats:has-text('tok/s')", timeout=120000)
        shot(page, "05-chat")
        stats = [page.locator(f"#pane-{i}-stats").inner_text() for i in (0, 1)]
        assert all("first token" in s for s in stats), stats
        bubbles = page.locator("#pane-1-chat .message").count()
        assert bubbles >= 2

        # stopping the engine from the tab ends its worker: no serve job (or process) outlives the session
        page.click("#stop-engine")
        from studio.jobs import JobManager
        from studio.workspace import Workspace

        mgr = JobManager(Workspace.open(workspace), grace=5.0)
        wait_for(lambda: not mgr.store.list(states=("running", "queued")), 60, "the serve job to stop")
        serve = [j for j in mgr.list(limit=20) if j.kind == "serve"]
        assert serve and all(j.state == "cancelled" for j in serve), [(j.kind, j.state) for j in serve]
        for job in serve:
            assert job.pid and not Path(f"/proc/{job.pid}").exists(), f"serve worker {job.pid} still alive"
        shot(page, "06-stopped")
