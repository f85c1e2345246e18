"""Tracking: every run writes TensorBoard event files holding its loss; TensorBoard serves the workspace."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from conftest import SAMPLES, tiny_spec, train_inline


def _scalars(folder: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[float]] = {}
    for events in folder.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend(e.value for e in acc.Scalars(tag))
    return out


def test_every_run_writes_tensorboard_events_with_the_loss(workspace, tiny_model):
    data = SAMPLES / "identity_alpaca.jsonl"
    logged = {}
    for name in ("first", "second"):
        run_dir, _ = train_inline(workspace, tiny_spec(data, max_steps=4, logging_steps=1), name)
        folder = run_dir / "tensorboard"
        assert list(folder.rglob("events.out.tfevents.*")), f"no event file in {folder}"
        scalars = _scalars(folder)
        assert "train/loss" in scalars, scalars.keys()
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        losses = [m["loss"] for m in metrics if "loss" in m]
        assert len(scalars["train/loss"]) == len(losses) >= 4
        assert scalars["train/loss"] == pytest.approx(losses, rel=1e-4)
        logged[name] = scalars["train/loss"]
    assert all(logged.values())


def test_tracker_settings_keep_the_key_out_of_the_file(workspace, monkeypatch):
    from studio.errors import StudioError
    from studio.jobs.secrets import read_secrets
    from studio.tracking import settings

    settings.configure(workspace.root, "wandb", project="tune", key="sk-very-secret")
    text = (workspace.root / settings.FILE).read_text()
    assert "tune" in text and "sk-very-secret" not in text
    assert read_secrets(workspace.root, settings.SECRET_ENTRY)["wandb"] == "sk-very-secret"
    with pytest.raises(StudioError) as err:
        settings.configure(workspace.root, "wandb", uri="http://x")
    assert "uri" in err.value.one_line() and "项" in err.value.one_line("zh")
    # wandb is not installed here: the run reports to TensorBoard only (and says why)
    notes = []
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    out = settings.report_to(workspace.runs / "x", workspace.root, notes.append)
    assert out == ["tensorboard"] and "not installed" in notes[0]


def test_tensorboard_job_serves_the_runs_on_localhost(manager, workspace):
    from studio.cli.tensorboard import start, wait_url

    (workspace.runs / "demo" / "tensorboard").mkdir(parents=True)
    job = start(manager)
    try:
        url = wait_url(manager, job.id, timeout=120)
        assert url and url.startswith("http://127.0.0.1:"), manager.get(job.id).error
        with urllib.request.urlopen(url + "data/environment", timeout=10) as resp:
            env = json.loads(resp.read())
        assert env["data_location"] == str(workspace.runs)
    finally:
        done = manager.cancel(job.id, wait=True)
    assert done.state == "cancelled"
    port = int(url.rsplit(":", 1)[1].strip("/"))
    import socket

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
