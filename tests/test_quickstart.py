"""The shell and the quick start without a browser: the app builds in both languages, no timer is
switched on at start-up, the status bar's timer follows the jobs, and the quick start's plain steps."""

from __future__ import annotations

import gradio as gr
import pytest
from conftest import SAMPLES


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module (building both languages takes a while on a busy machine)."""
    from studio.jobs import JobManager
    from studio.ui.app import build_app
    from studio.workspace import Workspace

    workspace = Workspace.open(tmp_path_factory.mktemp("app") / "ws")
    manager = JobManager(workspace, grace=5.0)
    yield build_app(workspace, manager, lang="en")
    for job in manager.store.list(states=("running", "queued")):
        manager.cancel(job.id, wait=True)


def test_one_page_per_language_and_rail(app):
    from studio.ui.app import PAGES

    assert [p[0] for p in app.pages] == ["", "zh"]
    ids = {b.elem_id for b in app.blocks.values() if getattr(b, "elem_id", None)}
    for name in PAGES:
        assert f"rail-{name}" in ids
    assert {"status-text", "job-drawer", "qs-sample", "qs-own", "qs-recent", "lang-zh", "theme-toggle"} <= ids
    # the Chinese page has its own rail, labelled in Chinese
    labels = [b.value for b in app.blocks.values() if isinstance(b, gr.Button) and b.elem_id == "rail-start"]
    assert any("开始" in v for v in labels) and any("Start" in v for v in labels)


def test_no_timer_is_active_at_start(app):
    """Nothing polls while nothing runs: every timer of both pages starts switched off."""
    timers = [b for b in app.blocks.values() if isinstance(b, gr.Timer)]
    assert timers
    assert [t for t in timers if t.active] == []


def test_status_timer_follows_the_jobs(app):
    from studio.ui.shell import status

    manager = app.studio.manager
    html, timer = status.refresh(app.studio)
    assert timer.active is False and "data-running='0'" in html and "data-queued='0'" in html
    job = manager.submit("sleep", {"steps": 100, "step_seconds": 0.5}, title="nap")
    html, timer = status.refresh(app.studio)
    assert timer.active is True and ("data-running='1'" in html or "data-queued='1'" in html)
    manager.cancel(job.id, wait=True)
    html, timer = status.refresh(app.studio)
    assert timer.active is False


def test_api_endpoints_have_stable_names(app):
    names = {fn.api_name for fn in app.fns.values() if fn.api_name}
    assert {"start_run", "run_state", "cancel_run"} <= names


def test_sample_data_is_saved_and_a_question_suggested(workspace):
    from studio.ui.quickstart import actions

    dataset = actions.use_sample(workspace)
    assert dataset.name == actions.SAMPLE_NAME and len(dataset.rows) >= 8
    assert (workspace.datasets / actions.SAMPLE_NAME / "meta.json").is_file()
    assert actions.suggested_question([{"prompt": "Who made you?", "reference": "x"}]) == "Who made you?"
    assert actions.suggested_question([{"instruction": "Name?", "input": ""}]) == "Name?"
    assert actions.suggested_question([{"messages": [{"role": "user", "content": "Hi"}]}]) == "Hi"


def test_bad_file_is_refused_with_its_row(workspace, tmp_path):
    from studio.data.findings import DataError
    from studio.errors import StudioError
    from studio.ui.quickstart import actions

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{not json\n', encoding="utf-8")
    with pytest.raises((DataError, StudioError), match="2"):
        actions.save_file(workspace, bad)
    assert not (workspace.datasets / "bad").exists() or not list((workspace.datasets / "bad").glob("v*.jsonl"))


def test_user_file_saved_under_its_name(workspace):
    from studio.ui.quickstart import actions

    dataset = actions.save_file(workspace, SAMPLES / "identity_alpaca.jsonl")
    assert dataset.name == "identity_alpaca" and dataset.format == "alpaca"
