"""The job drawer: any job's progress, log and actions, from any page (a sidebar on the right).

It holds the shared job panel (studio/ui/job_panel.py) over every job kind. The status bar's Jobs
button opens it on the newest running job (else the panel keeps what it shows).
"""

from __future__ import annotations

import gradio as gr

from ...jobs.kinds import KINDS
from ..job_panel import JobPanel
from .status import watched_jobs


def newest_active(manager) -> str | None:
    jobs = sorted(watched_jobs(manager), key=lambda j: (j.state != "running", -j.created_at))
    return jobs[0].id if jobs else None


def open_drawer(studio):
    """Open the drawer, following the newest running (or queued) job if there is one."""
    job_id = newest_active(studio.manager)
    return gr.Sidebar(open=True), (job_id if job_id else gr.update())


def build(studio, open_button: gr.Button) -> JobPanel:
    t = studio.t
    with gr.Sidebar(label=t("shell.drawer"), open=False, position="right", width=480,
                    elem_id="job-drawer") as drawer:
        gr.Markdown(f"### {t('shell.drawer')}")
        panel = JobPanel.build(studio, kinds=tuple(KINDS), elem_prefix="drawer",
                               curves=("loss",), label=t("shell.drawer_job"), log_lines=14)
    open_button.click(lambda: open_drawer(studio), None, [drawer, panel.follow], show_progress="hidden",
                      queue=False, api_visibility="private")
    return panel
