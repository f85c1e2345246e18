"""Stable API endpoints for scripts (`gradio_client`): start a run, read its state, cancel it.

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/")
    job = c.predict("my-dataset", "", 20, api_name="/start_run")   # dataset, model ("" = default), steps (0 = planned)
    c.predict(job["id"], api_name="/run_state")
    c.predict(job["id"], api_name="/cancel_run")

The run is planned exactly as the quick start plans it (studio/ui/quickstart/plan.py) and submitted
through `studio.runs.start_training`, the Train page's path. Errors come back as a gradio error with
the one-line message in the launch language.
"""

from __future__ import annotations

import gradio as gr

from ...data.findings import DataError
from ...errors import StudioError
from ...jobs.events import read_progress


def _state(job) -> dict:
    progress = read_progress(job.run_dir)
    return {"id": job.id, "kind": job.kind, "state": job.state, "title": job.title, "run_dir": str(job.run_dir),
            "fraction": progress.get("fraction"), "message": progress.get("message", ""), "error": job.error or "",
            "adapter": (job.artifacts or {}).get("adapter")}


def register(studio) -> None:
    from ..quickstart.actions import start_run as submit
    from ..quickstart.plan import plan

    def fail(exc) -> gr.Error:
        return gr.Error(studio.t.error(exc))

    def start_run(dataset: str, model: str = "", max_steps: int = 0) -> dict:
        """Plan and start a training run on a saved dataset (or a file in the workspace)."""
        try:
            extra = [f"training.max_steps={int(max_steps)}"] if max_steps and int(max_steps) > 0 else []
            return _state(submit(studio.manager, plan(dataset, studio.workspace.root, model or None, extra).spec))
        except (StudioError, DataError) as exc:
            raise fail(exc) from None

    def run_state(job_id: str) -> dict:
        """The job's state, progress fraction and message, error and adapter folder."""
        try:
            return _state(studio.manager.get(job_id))
        except StudioError as exc:
            raise fail(exc) from None

    def cancel_run(job_id: str) -> dict:
        """Ask the job to stop; returns its state right after the request."""
        try:
            studio.manager.cancel(job_id)
            return _state(studio.manager.get(job_id))
        except StudioError as exc:
            raise fail(exc) from None

    for fn in (start_run, run_state, cancel_run):
        gr.api(fn, api_name=fn.__name__, queue=fn is start_run)
