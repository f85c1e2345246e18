"""A "TensorBoard" button: starts (or finds) the tensorboard serve job and links to it.

`build(studio)`; where it goes is the tabs' business (the Train or Jobs page). The server listens
on 127.0.0.1 only; the link opens it on the same machine.
"""

from __future__ import annotations

import gradio as gr

from ...errors import StudioError


def on_start(studio) -> str:
    from ...tracking.tensorboard import info, job_spec, running

    t = studio.t
    try:
        job = running(studio.manager) or studio.manager.submit("tensorboard", job_spec(studio.workspace),
                                                               title="TensorBoard")
    except StudioError as exc:
        return f"⚠️ {t.error(exc)}"
    found = info(job.run_dir)
    return t("export.tb_open", url=found["url"]) if found else t("export.tb_starting", id=job.id)


def on_poll(studio) -> str:
    from ...tracking.tensorboard import info, running

    job = running(studio.manager)
    found = info(job.run_dir) if job else None
    return studio.t("export.tb_open", url=found["url"]) if found else ""


def build(studio) -> None:
    t = studio.t
    with gr.Row(elem_id="tensorboard-panel"):
        button = gr.Button(t("export.tb_start"), size="sm", elem_id="tensorboard-start", scale=1)
        link = gr.Markdown(on_poll(studio), elem_id="tensorboard-link")
    timer = gr.Timer(5.0, active=False)  # ticks only from a click until the server is up
    button.click(lambda: on_start(studio), None, link).then(lambda: gr.update(active=True), None, timer)
    timer.tick(lambda: on_poll(studio), None, link, show_progress="hidden")
    timer.tick(lambda: gr.update(active=not on_poll(studio)), None, timer, show_progress="hidden")
