"""Train tab: run options, start, and a live monitor (progress bar, ETA, loss curve, log)."""

from __future__ import annotations

import uuid

import gradio as gr

from ...data import store
from ...errors import StudioError
from ...jobs.events import read_metrics, read_progress, tail_log
from ...runs import start_training
from ...spec import build_spec
from .. import estimate_panel
from ..monitor import job_label, metric_frame, progress_html
from . import method as method_tab


def dataset_choices(studio) -> list[str]:
    return store.list_datasets(studio.workspace.datasets)


def _train_jobs(studio):
    return [j for j in studio.manager.list(limit=100) if j.kind == "train"]


def build(studio, handles):
    t = studio.t
    editor = handles["method"]
    key = gr.State(lambda: uuid.uuid4().hex)
    with gr.Row():
        with gr.Column(scale=2):
            editor.run_section(dataset_choices(studio))
            with gr.Row():
                start = gr.Button(t("train.start"), variant="primary", elem_id="start-training")
                preview = gr.Button(t("train.preview"), elem_id="preview-spec")
            message = gr.Markdown(elem_id="train-message")
            estimate_panel.build(editor)
            with gr.Accordion(t("train.yaml"), open=False):
                yaml_box = gr.Code(language="yaml", interactive=False, elem_id="spec-yaml")
        with gr.Column(scale=3):
            with gr.Row():
                job_pick = gr.Dropdown(label=t("train.job"), choices=[], elem_id="train-job", scale=4)
                cancel = gr.Button(t("jobs.cancel"), size="sm", scale=1, elem_id="train-cancel")
                resume = gr.Button(t("jobs.resume"), size="sm", scale=1, elem_id="train-resume")
            progress = gr.HTML(progress_html(None, {}, t), elem_id="train-progress")
            loss_plot = gr.LinePlot(metric_frame([]), x="step", y="loss", title=t("train.loss"),
                                    elem_id="loss-plot", height=260)
            with gr.Row():
                eval_plot = gr.LinePlot(metric_frame([], "eval_loss"), x="step", y="eval_loss",
                                        title=t("train.eval_loss"), height=160, elem_id="eval-plot")
                lr_plot = gr.LinePlot(metric_frame([], "learning_rate"), x="step", y="learning_rate",
                                      title=t("train.lr"), height=160, elem_id="lr-plot")
            log = gr.Textbox(label=t("train.log"), lines=10, max_lines=10, autoscroll=True, interactive=False,
                             elem_id="train-log")
    method_tab.wire(editor)
    editor.data_path.focus(lambda: gr.update(choices=dataset_choices(studio)), None, editor.data_path)

    def spec_yaml(*values):
        try:
            return build_spec(editor.collect(values), source="form").to_yaml(), ""
        except StudioError as exc:
            return gr.update(), f"⚠️ {exc.one_line()}"

    preview.click(spec_yaml, editor.inputs, [yaml_box, message])

    def on_start(request: gr.Request, k, *values):
        try:
            spec = build_spec(editor.collect(values), source="form")
            job = start_training(studio.manager, spec, owner=_user(request), key=k)
        except StudioError as exc:
            return gr.update(), f"⚠️ {exc.one_line()}", k
        choices = [(job_label(j), j.id) for j in _train_jobs(studio)]
        return (gr.update(choices=choices, value=job.id), t("train.started", run=job.run_dir),
                uuid.uuid4().hex)

    start.click(on_start, [key, *editor.inputs], [job_pick, message, key], concurrency_limit=1)

    def refresh(job_id):
        jobs = _train_jobs(studio)
        choices = [(job_label(j), j.id) for j in jobs]
        if not job_id and jobs:
            job_id = jobs[0].id
        job = studio.manager.get(job_id) if job_id else None
        if job is None:
            return gr.update(choices=choices), progress_html(None, {}, t), metric_frame([]), \
                metric_frame([], "eval_loss"), metric_frame([], "learning_rate"), ""
        rows = read_metrics(job.run_dir)
        return (gr.update(choices=choices, value=job_id), progress_html(job, read_progress(job.run_dir), t),
                metric_frame(rows), metric_frame(rows, "eval_loss"), metric_frame(rows, "learning_rate"),
                tail_log(job.run_dir, 6000))

    outputs = [job_pick, progress, loss_plot, eval_plot, lr_plot, log]
    timer = gr.Timer(1.5)
    timer.tick(refresh, job_pick, outputs, show_progress="hidden", concurrency_limit=4)
    job_pick.change(refresh, job_pick, outputs, show_progress="hidden")

    def act(action, job_id):
        if not job_id:
            return t("train.no_job")
        try:
            job = getattr(studio.manager, action)(job_id)
        except StudioError as exc:
            return f"⚠️ {exc.one_line()}"
        return t(f"jobs.{action}_sent", id=job.id, state=t("state." + job.state))

    cancel.click(lambda j: act("cancel", j), job_pick, message)
    resume.click(lambda j: act("resume", j), job_pick, message)
    return editor


def _user(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None
