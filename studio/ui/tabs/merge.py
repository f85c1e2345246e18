"""Merge tab: fold a trained adapter into its base model as a merge job; see the verification."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ...errors import StudioError
from ...jobs.events import read_progress
from ...runs import finished_adapters
from ..monitor import progress_html


def build(studio, handles):
    t = studio.t
    with gr.Row():
        adapter = gr.Dropdown(finished_adapters(studio.manager), label=t("merge.adapter"), elem_id="merge-adapter",
                              scale=3)
        name = gr.Textbox(label=t("merge.name"), elem_id="merge-name", scale=2)
        dtype = gr.Dropdown(["float32", "bfloat16", "float16"], value="float32", label=t("merge.dtype"), scale=1)
    with gr.Row():
        start = gr.Button(t("merge.start"), variant="primary", elem_id="merge-start")
        refresh = gr.Button(t("chat.refresh"), size="sm")
    job_state = gr.State(None)
    progress = gr.HTML(elem_id="merge-progress")
    report = gr.Markdown(elem_id="merge-report")

    def on_start(request: gr.Request, adapter_path, out_name, dt):
        if not adapter_path:
            return None, f"⚠️ {t('merge.pick')}"
        spec = {"adapter": adapter_path, "name": out_name or None, "dtype": dt}
        try:
            job = studio.manager.submit("merge", spec, title=f"merge · {Path(adapter_path).parent.name}",
                                        owner=getattr(request, "username", None))
        except StudioError as exc:
            return None, f"⚠️ {exc.one_line()}"
        return job.id, t("merge.queued", id=job.id)

    start.click(on_start, [adapter, name, dtype], [job_state, report])
    refresh.click(lambda: gr.update(choices=finished_adapters(studio.manager)), None, adapter)

    def poll(job_id):
        if not job_id:
            return "", gr.update()
        job = studio.manager.get(job_id)
        html = progress_html(job, read_progress(job.run_dir), t)
        if job.state == "succeeded":
            rep = json.loads(Path(job.artifacts["report"]).read_text())
            return html, t("merge.done", path=job.artifacts["model"], diff=f"{rep['max_abs_logit_diff']:.2e}")
        return html, gr.update()

    gr.Timer(2.0).tick(poll, job_state, [progress, report], show_progress="hidden")
    return None
