"""Train page: run options joined with the Method page's recipe part, start, and the job panel
(progress, ETA, loss curves, log, before/after probe). A run planned by the quick start ("Advanced",
the `recipe.planned` channel) fills its run name, dataset, data, training and resource options."""

from __future__ import annotations

import uuid

import gradio as gr

from ...errors import StudioError
from ...runs import start_training
from ...spec import build_spec
from .. import choices, estimate_panel
from ..context import bind
from ..job_panel import JobPanel
from ..panels import resources as resources_panel
from ..quickstart.plan import PLANNED_CHANNEL
from ..spec_editor import METHOD_CHANNEL, PRESET_CHANNEL, RunEditor, join


def build(studio) -> None:
    t = studio.t
    editor = RunEditor(studio)
    recipe = studio.channel(METHOD_CHANNEL)
    preset = studio.channel(PRESET_CHANNEL)
    key = gr.State(lambda: uuid.uuid4().hex)
    with gr.Row():
        with gr.Column(scale=2):
            editor.run_section(choices.datasets(studio))
            inputs = [recipe, *editor.inputs]
            with gr.Row():
                start = gr.Button(t("train.start"), variant="primary", elem_id="start-training")
                preview = gr.Button(t("train.preview"), elem_id="preview-spec")
            message = gr.Markdown(elem_id="train-message")
            estimate_panel.build(studio, inputs, bind(raw_spec, editor))
            form = editor.resources_form  # where it runs: this machine or a cluster (panels/resources.py)
            resources_panel.build(studio, target=form.components[form.names.index("cluster")])
            with gr.Accordion(t("train.yaml"), open=False):
                yaml_box = gr.Code(language="yaml", interactive=False, elem_id="spec-yaml")
        with gr.Column(scale=3):
            panel = JobPanel.build(studio, kinds=("train",), elem_prefix="train", probe=True)

    preset.change(editor.preset_updates, preset, editor.preset_outputs, show_progress="hidden")
    planned = studio.channel(PLANNED_CHANNEL)
    planned.change(bind(fill, studio, editor), planned, editor.inputs, show_progress="hidden", queue=False)
    editor.data_path.focus(bind(dataset_update, studio), None, editor.data_path,
                           show_progress="hidden", queue=False)
    preview.click(bind(spec_yaml, studio, editor), inputs, [yaml_box, message])
    start.click(bind(on_start, studio, editor), [key, *inputs], [panel.follow, message, key],
                concurrency_limit=1)


def raw_spec(editor: RunEditor, method_part: dict | None, *values) -> dict:
    """The raw run spec: the Method page's part (from its channel) and this page's values."""
    return join(method_part, editor.collect(values))


def fill(studio, editor: RunEditor, planned: dict | None) -> list:
    """Updates for `editor.inputs` from a planned run spec (the dataset list refreshed: it may be new)."""
    if not planned:
        return [gr.update()] * len(editor.inputs)
    data = planned.get("data") or {}
    return [gr.update(value=planned.get("name") or ""),
            gr.update(choices=choices.datasets(studio), value=data.get("path") or None),
            *editor.data_form.updates(data), *editor.training_form.updates(planned.get("training") or {}),
            *editor.resources_form.updates(planned.get("resources") or {})]


def dataset_update(studio):
    return gr.update(choices=choices.datasets(studio))


def spec_yaml(studio, editor: RunEditor, method_part, *values):
    try:
        return build_spec(raw_spec(editor, method_part, *values), source="form").to_yaml(), ""
    except StudioError as exc:
        return gr.update(), f"⚠️ {studio.t.error(exc)}"


def on_start(studio, editor: RunEditor, request: gr.Request, k: str, method_part, *values):
    """Validate and queue the run; the job panel follows it. A new key per start: a double click is one run."""
    try:
        spec = build_spec(raw_spec(editor, method_part, *values), source="form")
        job = start_training(studio.manager, spec, owner=_user(request), key=k)
    except StudioError as exc:
        return gr.update(), f"⚠️ {studio.t.error(exc)}", k
    return job.id, studio.t("train.started", run=job.run_dir), uuid.uuid4().hex


def _user(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None
