"""Jobs page: every job of every kind as a table and a timeline, one job panel for the picked job,
and several runs' curves overlaid for comparison.

The table's timer ticks only while some job is queued or running; it is woken by a page load,
the Refresh button, or a job started from any page (the `jobs.latest` channel).
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from ...jobs import kinds as job_kinds
from ...jobs.events import read_metrics, read_progress
from .. import charts, choices
from ..context import bind
from ..job_panel import ACTIVE, LATEST_CHANNEL, JobPanel
from ..panels import tensorboard

COLUMNS = ["id", "kind", "state", "title", "created", "progress", "error"]
CURVES = ["loss", "eval_loss", "learning_rate", "grad_norm"]


def headers(t) -> list[str]:
    return [t(f"jobs.col_{c}") for c in COLUMNS]


def jobs_frame(studio, jobs=None) -> pd.DataFrame:
    """One row per job (id first: a click on a row picks its job), headers in the reader's language."""
    rows = []
    for j in studio.manager.snapshot(max_age=1.0).jobs if jobs is None else jobs:
        frac = read_progress(j.run_dir).get("fraction")
        rows.append([j.id, j.kind, studio.t("state." + j.state), j.title,
                     time.strftime("%m-%d %H:%M:%S", time.localtime(j.created_at)),
                     "" if frac is None else f"{round(100 * frac)}%", j.error or ""])
    return pd.DataFrame(rows, columns=headers(studio.t))


def overview(studio) -> tuple:
    """(table, timeline HTML, timer update): the timer runs only while a job is queued or running.

    Read from the shared snapshot, so fifty open Jobs pages cost one reconciled read per second."""
    jobs = studio.manager.snapshot(max_age=1.0).jobs
    active = any(j.state in ACTIVE for j in jobs)
    return jobs_frame(studio, jobs), charts.timeline_html(charts.timeline_frame(jobs), studio.t), \
        gr.update(active=active)


def on_overview(studio, *_ignored) -> tuple:
    return overview(studio)


def picked_id(frame: pd.DataFrame, evt: gr.SelectData) -> str | None:
    """The id of the table row that was clicked."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return None if frame is None or row is None or row >= len(frame) else str(frame.iloc[row, 0])


def compare_runs(studio, job_ids: list[str] | None, metric: str) -> pd.DataFrame:
    """The chosen runs' `metric` curves in one frame, coloured by run."""
    runs = []
    for job_id in job_ids or []:
        job = studio.manager.get(job_id)
        runs.append((f"{job.id} · {job.title}", read_metrics(job.run_dir)))
    return charts.overlay_frame(runs, metric or "loss")


def runs_update(studio):
    return gr.update(choices=choices.runs(studio, "train"))


def build(studio) -> None:
    t = studio.t
    with gr.Row():
        refresh = gr.Button(t("common.refresh"), size="sm", scale=0, elem_id="jobs-refresh")
        tensorboard.build(studio)
    table = gr.Dataframe(pd.DataFrame(columns=headers(t)), interactive=False, label=t("jobs.all"),
                         elem_id="jobs-table", wrap=True, max_height=360)
    with gr.Accordion(t("jobs.timeline"), open=True):
        timeline = gr.HTML(elem_id="jobs-timeline")
    panel = JobPanel.build(studio, kinds=tuple(job_kinds.KINDS), elem_prefix="jobs", curves=("loss",),
                           label=t("jobs.selected"), log_lines=14)
    with gr.Accordion(t("jobs.compare"), open=False):
        with gr.Row():
            runs = gr.CheckboxGroup(choices.runs(studio, "train"), label=t("jobs.compare_runs"),
                                    elem_id="jobs-compare-runs", scale=4)
            metric = gr.Dropdown(CURVES, value="loss", label=t("jobs.compare_metric"), elem_id="jobs-compare-metric",
                                 scale=1)
            go = gr.Button(t("jobs.compare_go"), elem_id="jobs-compare-go", scale=1)
        overlay = gr.LinePlot(charts.overlay_frame([]), x="step", y="loss", color="run", height=300,
                              elem_id="jobs-compare-plot")
    timer = gr.Timer(3.0, active=False)

    outs = [table, timeline, timer]
    show = bind(on_overview, studio)
    gr.on(None, show, None, outs, show_progress="hidden", queue=False)
    refresh.click(show, None, outs, show_progress="hidden", queue=False)
    timer.tick(show, None, outs, show_progress="hidden", concurrency_limit=2)
    studio.channel(LATEST_CHANNEL).change(show, studio.channel(LATEST_CHANNEL), outs, show_progress="hidden")
    panel.finished.change(show, panel.finished, outs, show_progress="hidden")
    table.select(picked_id, table, panel.follow, show_progress="hidden", queue=False)
    refresh.click(bind(runs_update, studio), None, runs, queue=False)
    go.click(bind(on_compare, studio), [runs, metric], overlay, show_progress="hidden")


def on_compare(studio, job_ids, metric):
    frame = compare_runs(studio, job_ids, metric)
    return gr.update(value=frame, y=metric or "loss")
