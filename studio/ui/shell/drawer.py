"""The job drawer: any job's progress, log and actions, from any page (a sidebar on the right).

Opened by the status bar's Jobs button; the job picker lists every job, running ones first. The
panel inside is the shared job panel (studio/ui/job_panel.py) when it is there.
"""

from __future__ import annotations

import gradio as gr

from ..monitor import job_label


def job_choices(manager, limit: int = 50) -> list[tuple[str, str]]:
    jobs = manager.list(limit=limit)
    jobs.sort(key=lambda j: (j.state not in ("running", "queued"), -j.created_at))
    return [(f"{j.kind} · {job_label(j)}", j.id) for j in jobs]


def open_drawer(studio, current: str | None):
    """Open the drawer on the picked job, else on the newest running one, else the newest."""
    choices = job_choices(studio.manager)
    ids = [v for _l, v in choices]
    value = current if current in ids else (ids[0] if ids else None)
    return gr.Sidebar(open=True), gr.Dropdown(choices=choices, value=value)


def build(studio, open_button: gr.Button) -> gr.Sidebar:
    t = studio.t
    with gr.Sidebar(label=t("shell.drawer"), open=False, position="right", width=460,
                    elem_id="job-drawer") as drawer:
        gr.Markdown(f"### {t('shell.drawer')}")
        pick = gr.Dropdown([], label=t("shell.drawer_job"), elem_id="drawer-job")
        _panel(studio, pick)
    open_button.click(lambda cur: open_drawer(studio, cur), pick, [drawer, pick], show_progress="hidden",
                      queue=False, api_visibility="private")
    return drawer


def _panel(studio, pick: gr.Dropdown) -> None:
    """The shared job panel bound to the drawer's job picker."""
    try:
        from .. import job_panel
    except ImportError:  # until the shared panel is merged: the job's progress and log, read on pick
        return _plain_view(studio, pick)
    job_panel.attach(studio, pick)


def _plain_view(studio, pick: gr.Dropdown) -> None:
    from ...jobs.events import read_progress, tail_log
    from ..monitor import progress_html

    progress = gr.HTML(elem_id="drawer-progress")
    log = gr.Textbox(label=studio.t("jobs.log"), lines=12, max_lines=12, interactive=False, elem_id="drawer-log")

    def show(job_id):
        if not job_id:
            return progress_html(None, {}, studio.t), ""
        job = studio.manager.get(job_id)
        return progress_html(job, read_progress(job.run_dir), studio.t), tail_log(job.run_dir, 6000)

    pick.change(show, pick, [progress, log], show_progress="hidden", api_visibility="private")
