"""Jobs tab: every job of every kind, with its state, and cancel / resume / log."""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from ...errors import StudioError
from ...jobs.events import read_progress, tail_log

COLUMNS = ["id", "kind", "state", "title", "created", "progress", "error"]


def jobs_frame(studio) -> pd.DataFrame:
    rows = []
    for j in studio.manager.list(limit=200):
        prog = read_progress(j.run_dir)
        frac = prog.get("fraction")
        rows.append([j.id, j.kind, studio.t("state." + j.state), j.title,
                     time.strftime("%m-%d %H:%M:%S", time.localtime(j.created_at)),
                     "" if frac is None else f"{round(100 * frac)}%", j.error or ""])
    return pd.DataFrame(rows, columns=COLUMNS)


def build(studio, handles):
    t = studio.t
    table = gr.Dataframe(jobs_frame(studio), interactive=False, label=t("jobs.all"), elem_id="jobs-table",
                         wrap=True)
    with gr.Row():
        job_id = gr.Textbox(label=t("jobs.selected"), elem_id="jobs-selected", scale=3)
        cancel = gr.Button(t("jobs.cancel"), scale=1, elem_id="jobs-cancel")
        resume = gr.Button(t("jobs.resume"), scale=1, elem_id="jobs-resume")
    message = gr.Markdown()
    log = gr.Textbox(label=t("jobs.log"), lines=14, max_lines=14, interactive=False, autoscroll=True)

    def select(evt: gr.SelectData, frame):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return frame.iloc[row]["id"]

    table.select(select, table, job_id)

    def show_log(jid):
        if not jid:
            return ""
        try:
            return tail_log(studio.manager.get(jid).run_dir, 20000)
        except StudioError as exc:
            return exc.one_line()

    job_id.change(show_log, job_id, log)

    def act(action, jid):
        if not jid:
            return t("train.no_job"), jobs_frame(studio)
        try:
            job = getattr(studio.manager, action)(jid)
        except StudioError as exc:
            return f"⚠️ {exc.one_line()}", jobs_frame(studio)
        return t(f"jobs.{action}_sent", id=job.id, state=t("state." + job.state)), jobs_frame(studio)

    cancel.click(lambda j: act("cancel", j), job_id, [message, table])
    resume.click(lambda j: act("resume", j), job_id, [message, table])
    timer = gr.Timer(3.0)
    timer.tick(lambda jid: (jobs_frame(studio), show_log(jid)), job_id, [table, log], show_progress="hidden")
    return None
