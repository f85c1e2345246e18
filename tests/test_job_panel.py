"""The one job panel: its handlers on real `sleep` jobs (real worker processes, no model), the timer
that ticks only while the shown job is queued or running, actions, and the probe picture."""

from __future__ import annotations

import json

import gradio as gr

from studio.ui import job_panel
from studio.ui.context import Studio
from studio.ui.i18n import Translator


def _studio(workspace, manager, lang="en"):
    return Studio(workspace=workspace, manager=manager, t=Translator(lang))


def _timer(out):
    return out[-2]["active"]


def test_timer_ticks_only_while_the_job_runs(workspace, manager):
    studio = _studio(workspace, manager)
    cfg = job_panel.Config(kinds=("sleep",))
    idle = job_panel.on_load(studio, cfg)
    assert _timer(idle) is False and idle[-1] is None  # no job: nothing ticks

    job = manager.submit("sleep", {"steps": 30, "step_seconds": 0.1})
    out = job_panel.on_follow(studio, cfg, job.id, n_outputs=0)
    assert out[0]["value"] == job.id and _timer(out[:-2]) is True and out[-3] is None  # running: ticks
    assert out[-2] is None and out[-1] == job.id  # follow empties itself; the id goes to jobs.latest
    assert job_panel.on_follow(studio, cfg, None, n_outputs=3) == [gr.update()] * 5

    manager.wait(job.id, timeout=60)
    done = job_panel.on_tick(studio, cfg, job.id)
    assert _timer(done) is False and done[-1] == job.id  # the tick that sees the end stops the timer
    assert "data-state='succeeded'" in done[1]
    assert "counting" in done[2]  # the log tail


def test_load_picks_the_newest_job_and_only_its_kinds(workspace, manager):
    studio = _studio(workspace, manager)
    a = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01})
    manager.wait(a.id, timeout=60)
    out = job_panel.on_load(studio, job_panel.Config(kinds=("sleep",)))
    assert out[0]["value"] == a.id and _timer(out) is False
    assert job_panel.on_load(studio, job_panel.Config(kinds=("train",)))[0]["value"] is None


def test_actions_cancel_resume_and_clone(workspace, manager):
    studio = _studio(workspace, manager, "zh")
    cfg = job_panel.Config(kinds=("sleep",))
    job = manager.submit("sleep", {"steps": 50, "step_seconds": 0.1})
    message, *out = job_panel.on_action(studio, cfg, "cancel", job.id)
    assert job.id in message
    manager.cancel(job.id, wait=True)
    assert manager.get(job.id).state == "cancelled"
    message, *out = job_panel.on_action(studio, cfg, "resume", job.id)
    assert _timer(out) is True  # a resumed job is queued again: the timer comes back on
    manager.cancel(job.id, wait=True)
    message, *out = job_panel.on_action(studio, cfg, "clone", job.id)
    clone_id = out[0]["value"]
    assert clone_id != job.id and "副本" in message
    assert manager.get(clone_id).spec == job.spec
    manager.cancel(clone_id, wait=True)
    assert job_panel.act(studio, "cancel", None)[1] is None


def test_probe_picture_and_warning(workspace, manager):
    studio = _studio(workspace, manager, "zh")
    job = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01})
    manager.wait(job.id, timeout=60)
    probe = {"learned": {"base": 0.1, "tuned": 0.8, "n": 8, "metric": "rougeL"},
             "kept": {"base": 0.6, "tuned": 0.5, "n": 16, "metric": "rougeL"}, "threshold": 0.2,
             "warning": {"key": "files.file_not_found.msg", "args": {"path": "x.txt"}}, "examples": []}
    (workspace.root / job.run_dir).joinpath("probe.json").write_text(json.dumps(probe))
    out = job_panel.view(studio, job_panel.Config(kinds=("sleep",), probe=True), job.id)
    plot, text = out[3], out[4]
    frame = plot["value"]
    assert plot["visible"] is True and list(frame["score"]) == [0.1, 0.8, 0.6, 0.5]
    assert frame["bar"].nunique() == 4 and "基础模型" in frame["bar"][0]
    assert "0.10" in text and "0.80" in text and "⚠️ x.txt：找不到文件" in text


def test_panel_builds_with_an_inactive_timer(workspace, manager):
    studio = _studio(workspace, manager)
    with gr.Blocks():
        panel = job_panel.JobPanel.build(studio, kinds=("train",), elem_prefix="train", probe=True)
    assert panel.timer.active is False
    assert panel.job_id.elem_id == "train-job" and panel.plots[0].elem_id == "loss-plot"
    assert len(panel.outputs()) == 2 + 3 + 1 + 2 + 2


def test_a_pending_probe_keeps_the_train_panel_ticking(workspace, manager):
    """probe.json is written by a later `probe` job: while it is queued the panel keeps its timer on."""
    studio = _studio(workspace, manager)
    run = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01})
    manager.wait(run.id, timeout=60)
    cfg = job_panel.Config(kinds=("sleep",), probe=True)
    assert _timer(job_panel.view(studio, cfg, run.id)) is False
    # the probe job as the recipe's worker queues it (kept queued: this test only reads the records)
    pending = manager.submit("sleep", {"steps": 1}, start=False)
    manager.store.transition(pending.id, ("queued",), kind="probe", spec={"run_dir": run.run_dir})
    out = job_panel.view(studio, cfg, run.id)
    assert _timer(out) is True and out[-1] == run.id and "Measuring" in out[4]
    manager.cancel(pending.id)
    assert _timer(job_panel.view(studio, cfg, run.id)) is False
