"""Pictures (studio/ui/charts.py), the Jobs page's overview timer and run overlay, and the
Method -> Train recipe channel: module-level handlers called directly, no browser."""

from __future__ import annotations

import gradio as gr
import pytest

from studio.ui import charts
from studio.ui.context import Studio
from studio.ui.i18n import Translator


@pytest.fixture
def studio(workspace, manager):
    return Studio(workspace=workspace, manager=manager, t=Translator("en"))


class _Job:
    def __init__(self, id, state, created, started=None, ended=None, kind="train"):
        self.id, self.state, self.kind, self.title = id, state, kind, f"job {id}"
        self.created_at, self.started_at, self.ended_at, self.updated_at = created, started, ended, ended or created


def test_overlay_frame_puts_runs_side_by_side():
    a = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}, {"step": 2, "eval_loss": 1.9}]
    b = [{"step": 1, "loss": 2.2}]
    frame = charts.overlay_frame([("a", a), ("b", b)])
    assert list(frame.columns) == ["step", "loss", "run"]
    assert frame.to_dict("records") == [{"step": 1, "loss": 2.0, "run": "a"}, {"step": 2, "loss": 1.5, "run": "a"},
                                        {"step": 1, "loss": 2.2, "run": "b"}]
    assert charts.overlay_frame([("a", a)], "eval_loss")["eval_loss"].tolist() == [1.9]


def test_timeline_frame_and_html():
    jobs = [_Job("j1", "succeeded", 100.0, 110.0, 160.0), _Job("j2", "running", 150.0, 170.0)]
    frame = charts.timeline_frame(jobs, now=200.0)
    row = frame.set_index("id").loc["j2"]
    assert (row["start"], row["end"]) == (170.0, 200.0)  # a running job ends "now"
    html = charts.timeline_html(frame, Translator("zh"))
    assert html.count("class='tl-row'") == 2 and "#2563eb" in html and "运行中" in html
    assert "还没有任务" in charts.timeline_html(charts.timeline_frame([]), Translator("zh"))


def test_memory_bar_marks_the_device_memory():
    parts = {"weights": 3 * 2**30, "optimizer": 2**30, "activations": 0}
    html = charts.memory_bar_html(parts, 8 * 2**30, lambda k, v: f"{k} {v >> 30}G", "device 8G")
    assert 'data-part="weights"' in html and 'data-part="activations"' not in html
    assert "width:37.50%" in html and "mem-limit" in html  # 3 of the device's 8 GiB: the bar is scaled to it
    frame = charts.memory_frame(parts, 8 * 2**30)
    assert frame.set_index("part")["gib"].to_dict() == {"weights": 3.0, "optimizer": 1.0, "device": 8.0}
    over = charts.memory_bar_html({"weights": 16 * 2**30}, 8 * 2**30, lambda k, v: k)
    assert "left:50.00%" in over  # the device line sits halfway along a bar twice its size


def test_length_histogram_colours_rows_over_max_length():
    frame = charts.length_histogram([10, 12, 30, 95, 100], max_length=50)
    assert int(frame["rows"].sum()) == 5
    assert set(frame[frame["fits"] == "over"]["start"]) >= {90}
    assert (frame[frame["start"] < 50]["fits"] == "fits").all()
    assert charts.length_histogram([]).empty


def test_jobs_page_timer_only_while_jobs_run(studio, manager):
    from studio.ui.tabs import jobs

    table, html, timer = jobs.overview(studio)
    assert table.empty and timer["active"] is False
    job = manager.submit("sleep", {"steps": 30, "step_seconds": 0.1})
    table, html, timer = jobs.overview(studio)
    assert job.id in set(table.iloc[:, 0]) and timer["active"] is True and job.id in html
    manager.cancel(job.id, wait=True)
    assert jobs.overview(studio)[2]["active"] is False


def test_jobs_page_overlays_chosen_runs(studio, manager):
    from studio.atomic import append_jsonl
    from studio.jobs.events import METRICS
    from studio.ui.tabs import jobs

    ids = []
    for n in range(2):
        job = manager.submit("sleep", {"steps": 1, "step_seconds": 0.01})
        manager.wait(job.id, timeout=60)
        for step in (1, 2, 3):
            append_jsonl(manager.workspace.root / job.run_dir / METRICS, {"step": step, "loss": 3.0 - step + n})
        ids.append(job.id)
    frame = jobs.compare_runs(studio, ids, "loss")
    assert len(frame) == 6 and frame["run"].nunique() == 2
    update = jobs.on_compare(studio, ids, "loss")
    assert update["y"] == "loss" and len(update["value"]) == 6


def test_method_page_publishes_the_recipe_and_train_joins_it(studio, tiny_model):
    from studio.ui.spec_editor import METHOD_CHANNEL, MethodEditor, RunEditor, join
    from studio.ui.tabs import method, train

    with gr.Blocks():
        method.build(studio)
        m = MethodEditor(studio)
        m.model_section()
        m.method_section()
        m.stage_section()
        r = RunEditor(studio)
        r.run_section(["identity"])
    published = studio.channel(METHOD_CHANNEL).value
    assert published["method"] == "lora" and published["model"]["name"] == "smollm2-135m-instruct"
    values = [c.value for c in m.inputs]
    values[0] = "tiny-random-llama"
    values[len(m.model_form.components) + 1] = "dora"
    part = method.publish(m, *values)
    assert part["method"] == "dora" and part["model"]["name"] == "tiny-random-llama"
    run_values = [c.value for c in r.inputs]
    yaml_text, message = train.spec_yaml(studio, r, part, *run_values)
    assert message == "" and "method: dora" in yaml_text and "tiny-random-llama" in yaml_text
    raw = join(None, r.collect(run_values))
    assert raw["method"] == "lora" and raw["data"]["path"] == "identity"  # without the Method page: defaults
    _update, message = train.spec_yaml(studio, r, dict(part, method="nope"), *run_values)
    assert message.startswith("⚠️")
    assert "Trainable parameters" in method.count_text(m, *values)


def test_switching_method_carries_the_shared_options(studio):
    from studio.ui.spec_editor import MethodEditor, carry

    with gr.Blocks():
        m = MethodEditor(studio)
        m.model_section()
        m.method_section()
        m.stage_section()
    comps = m.form_components("method")
    values = [c.value for c in comps]
    names = [(name, field) for name, form in m.method_forms.items() for field in form.names]
    values[names.index(("lora", "r"))] = 32
    ups = carry(m, "method", "lora", "dora", *values)
    assert ups[-1] == "dora"
    assert ups[names.index(("dora", "r"))]["value"] == 32  # LoRA's rank goes with the user to DoRA
    assert all(u == gr.update() for (name, _f), u in zip(names, ups) if name != "dora")
