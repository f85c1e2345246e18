"""Real training runs on the tiny model through real worker processes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from conftest import tiny_spec
from studio.atomic import read_jsonl
from studio.runs import start_training
from studio.spec import build_spec
from studio.train.checkpoints import MARKER, latest_complete


def losses(run_dir) -> list[float]:
    return [r["loss"] for r in read_jsonl(Path(run_dir) / "metrics.jsonl") if "loss" in r]


def test_sft_on_tiny_model_loss_falls(manager, identity_data, tiny_model):
    spec = build_spec(tiny_spec(identity_data, max_steps=16, save_steps=8))
    job = start_training(manager, spec)
    done = manager.wait(job.id, timeout=600)
    assert done.state == "succeeded", done.error
    values = losses(done.run_dir)
    assert len(values) == 16
    assert sum(values[-4:]) / 4 < sum(values[:4]) / 4 - 0.05, values
    adapter = Path(done.artifacts["adapter"])
    assert (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "studio_run.json").read_text())["method"] == "lora"
    summary = json.loads((Path(done.run_dir) / "summary.json").read_text())
    assert summary["global_step"] == 16
    report = json.loads((Path(done.run_dir) / "data_report.json").read_text())
    assert report["format"] == "alpaca" and report["train_rows"] == 48
    progress = json.loads((Path(done.run_dir) / "progress.json").read_text())
    assert progress["fraction"] == 1.0


def test_sigkill_mid_run_then_resume_from_the_last_complete_checkpoint(manager, identity_data, tiny_model):
    spec = build_spec(tiny_spec(identity_data, max_steps=30, save_steps=5, batch_size=2, max_length=64))
    job = start_training(manager, spec)
    ckpts = Path(job.run_dir) / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and latest_complete(ckpts) is None:
        assert manager.get(job.id).state in ("queued", "running")
        time.sleep(0.2)
    first = latest_complete(ckpts)
    assert first is not None, "no complete checkpoint appeared"
    os.kill(manager.get(job.id).pid, signal.SIGKILL)
    interrupted = manager.wait(job.id, timeout=30)
    assert interrupted.state == "interrupted"
    # a checkpoint folder without the completion mark (a save cut off) must never be resumed from
    newest = latest_complete(ckpts)
    step = int(newest.name.split("-")[1])
    bogus = ckpts / f"checkpoint-{step + 100}"
    bogus.mkdir()
    (bogus / "trainer_state.json").write_text("{ half written")
    assert latest_complete(ckpts) == newest and not (bogus / MARKER).exists()
    import shutil

    shutil.rmtree(bogus)  # the trainer would otherwise rotate it; its absence is what we tested above
    manager.resume(job.id)
    done = manager.wait(job.id, timeout=600)
    assert done.state == "succeeded", done.error
    summary = json.loads((Path(done.run_dir) / "summary.json").read_text())
    assert summary["resumed_from"] == newest.name
    assert summary["global_step"] == 30
    steps = [r["step"] for r in read_jsonl(Path(done.run_dir) / "metrics.jsonl") if "loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == 30  # no duplicate steps on the curve
    assert "resuming from" in (Path(done.run_dir) / "worker.log").read_text()


def test_cancel_during_training_is_recorded(manager, identity_data, tiny_model):
    spec = build_spec(tiny_spec(identity_data, max_steps=500, save_steps=100, batch_size=2, max_length=64))
    job = start_training(manager, spec)
    metrics = Path(job.run_dir) / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and len(read_jsonl(metrics)) < 2:
        time.sleep(0.2)
    done = manager.cancel(job.id, wait=True)
    assert done.state == "cancelled"
    assert not (Path(job.run_dir) / "adapter").exists()  # nothing half-written
