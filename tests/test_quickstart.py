"""The shell and the quick start without a browser: the app builds in both languages, no timer is
switched on at start-up, the status bar's timer follows the jobs, and the quick start's plain steps."""

from __future__ import annotations

from pathlib import Path

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


def _values_after(components, updates) -> list:
    """What the components show once `updates` (gr.update dicts) are applied."""
    return [u["value"] if isinstance(u, dict) and "value" in u else c.value for c, u in zip(components, updates)]


def test_advanced_fills_both_forms_with_the_planned_run(workspace):
    """The planned run, filled into the Method and Train pages' forms (as the `recipe.planned` channel
    does), reads back as the same run; one changed number changes only that in the spec."""
    from studio.jobs import JobManager
    from studio.spec import build_spec
    from studio.ui.context import Studio
    from studio.ui.i18n import Translator
    from studio.ui.quickstart import actions
    from studio.ui.quickstart.plan import form_values, plan
    from studio.ui.spec_editor import MethodEditor, RunEditor, join
    from studio.ui.tabs import method, train

    dataset = actions.use_sample(workspace)
    planned = plan(dataset.name, workspace.root, "tiny-random-llama", ["data.keep_general=false"])
    values = form_values(planned)
    assert values["training"]["max_steps"] == planned.steps and isinstance(planned.steps, int)
    studio = Studio(workspace=workspace, manager=JobManager(workspace), t=Translator("en"))
    with gr.Blocks():
        m, r = MethodEditor(studio), RunEditor(studio)
        m.model_section()
        m.method_section()
        m.stage_section()
        r.run_section([])
    m_ups = method.fill(m, values)
    assert m_ups[-2:] == [planned.spec.method, planned.spec.stage]
    method_part = method.publish(m, *_values_after(m.inputs, m_ups[:-2]))
    run_values = _values_after(r.inputs, train.fill(studio, r, values))
    assert run_values[1] == dataset.name
    spec = build_spec(join(method_part, r.collect(run_values)), source="form")
    assert spec.model.name == "tiny-random-llama" and spec.data.path == dataset.name
    assert spec.training.max_steps == planned.steps
    assert spec.method_args["r"] == planned.spec.method_args["r"]
    assert spec.data.keep_general is False

    steps = r.training_form.names.index("max_steps") + 2 + len(r.data_form.components)
    run_values[steps] = str(planned.steps + 7)
    changed = build_spec(join(method_part, r.collect(run_values)), source="form")
    assert changed.training.max_steps == planned.steps + 7
    assert changed.model_dump(exclude={"training"}) == spec.model_dump(exclude={"training"})


def _flow(manager):
    from studio.ui.context import Studio
    from studio.ui.i18n import Translator
    from studio.ui.quickstart.flow import Flow

    return Flow(Studio(workspace=manager.workspace, manager=manager, t=Translator("en")), nav=None,
                status_timer=gr.Timer(active=False))


def _message(result) -> str:
    return result[15]  # state, 8 view updates, progress, engine, question, ask, 2 panes, message


def _wait_for(manager, job_id, states, seconds=60.0):
    import time

    deadline = time.time() + seconds
    while time.time() < deadline:
        job = manager.get(job_id)
        if job.state in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{job_id} still {manager.get(job_id).state}")


def test_a_recent_run_opens_where_it_stands(manager):
    """Running: its progress and the watch timer on; failed: the recorded error in a sentence that says
    what to do; the picker lists runs newest first."""
    flow = _flow(manager)
    running = manager.submit("sleep", {"steps": 200, "step_seconds": 0.2}, title="counting")
    _wait_for(manager, running.id, ("running",))
    result = flow.on_recent({}, running.id)
    assert result[0]["step"] == 3 and result[-2].active is True
    assert "studio-progress" in result[9]
    manager.cancel(running.id, wait=True)
    assert "cancelled" in _message(flow.on_recent({}, running.id))

    broken = manager.submit("sleep", {"steps": 3}, title="broken", start=False)
    (Path(broken.run_dir) / "counter.json").write_text("{oops")  # its checkpoint is unreadable: it fails
    manager.tick()
    failed = _wait_for(manager, broken.id, ("failed",))
    text = _message(flow.on_recent({}, broken.id))
    assert text.startswith("The run failed: ") and "JSONDecodeError" in text and "Jobs page" in text
    assert failed.error and "\n" not in text.split(": ", 1)[1].split(". Its log")[0]
    assert _message(flow.on_recent({}, None)) == flow.t("quickstart.no_recent")
    assert flow.on_back({"step": 3, "job": broken.id})[0]["step"] == 0  # Back from a reopened run: the start


def test_question_for_a_run_from_its_held_out_rows(workspace, tmp_path):
    from types import SimpleNamespace

    from studio.ui.quickstart import actions

    dataset = actions.use_sample(workspace)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    job = SimpleNamespace(run_dir=str(run_dir), spec={"data": {"path": dataset.name}})
    first = actions.suggested_question(dataset.rows)
    assert first and actions.run_question(job, workspace.root) == first  # no held-out file: the data's first row
    (run_dir / "heldout.jsonl").write_text(
        '{"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who built you?"}], '
        '"reference": "Orbiton Labs"}\n', encoding="utf-8")
    assert actions.run_question(job, workspace.root) == "Who built you?"
    assert actions.error_line("Traceback (most recent call last):\n  File x\nValueError: bad rank\n") == \
        "ValueError: bad rank"


def test_start_up_imports_no_model_libraries(tmp_path):
    """Building the app (both languages) imports neither torch, transformers, datasets nor peft: they
    load when a job or an action needs them. Gradio's optional MCP package is not imported either
    (studio/ui/shell/gradio_import.py), yet stays importable. In a fresh process, as launch.py starts."""
    import importlib.util
    import json
    import os
    import subprocess
    import sys

    code = ("import json, sys; from studio.ui.app import build_app; from studio.workspace import Workspace; "
            "demo = build_app(Workspace.open(sys.argv[1])); "
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'peft', 'trl', 'vllm', 'mcp') if m in sys.modules]; "
            "import importlib.util; "
            "print(json.dumps({'heavy': heavy, 'pages': [p[0] for p in demo.pages], "
            "'mcp_importable': importlib.util.find_spec('mcp') is not None}))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ws")], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"), check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["heavy"] == [] and found["pages"] == ["", "zh"], found
    assert found["mcp_importable"] is (importlib.util.find_spec("mcp") is not None)


def test_label_tables_read_fast_are_the_same():
    """The UI's label files are parsed with libyaml at start-up (studio/ui/i18n.py): same texts as
    PyYAML's pure-Python safe loader gives."""
    import yaml

    from studio.ui.i18n import _LOADER, LOCALES

    files = sorted(LOCALES.glob("*/*.yaml"))
    assert len(files) >= 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=_LOADER) == yaml.safe_load(text), path
