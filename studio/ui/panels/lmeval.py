"""Standard benchmarks panel (lm-evaluation-harness): base vs tuned in one `lmeval` job, side by side.

`build(studio)`; it belongs beside the evaluation controls (the tabs decide where). Handlers are
module-level functions of plain values; the work is `studio.eval.lmeval`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import gradio as gr

from ...errors import StudioError
from ...jobs.failure import error_text
from ..job_panel import timer_update

COLUMNS = ["task", "metric", "base", "tuned", "delta"]


def table_rows(summary: dict) -> list[list]:
    out = []
    for task, metrics in summary["tasks"].items():
        for metric, cell in metrics.items():
            out.append([task, metric] + [cell.get(k, "") for k in ("base", "tuned", "delta")])
    return out


def on_start(studio, tasks: str, mc_file, model: str, tuned: str, limit, owner: str | None = None):
    """Submit the job; `tuned` is an adapter folder or a merged model folder. Returns (job id, message)."""
    from ...eval.lmeval import build

    t = studio.t
    try:
        names = [x.strip() for x in (tasks or "").split(",") if x.strip() and x.strip() != "local"]
        local = None
        if mc_file:
            src = Path(getattr(mc_file, "name", mc_file))
            local = studio.workspace.uploads / f"lmeval-{time.strftime('%Y%m%d-%H%M%S')}-{src.name}"
            shutil.copyfile(src, local)
        if not names and not local:
            raise StudioError(key="lmeval.no_tasks")
        folder = Path(tuned) if tuned else None
        is_adapter = bool(folder and (folder / "adapter_config.json").is_file())
        spec = build({"model": model or "smollm2-135m-instruct", "tasks": names,
                      "mc_file": str(local) if local else None, "limit": int(limit or 0),
                      "adapter": str(folder) if is_adapter else None,
                      "tuned_model": str(folder) if folder and not is_adapter else None}, "lm-eval")
        job = studio.manager.submit("lmeval", spec.model_dump(mode="json"),
                                    title=f"lm-eval · {', '.join(names + (['local'] if local else []))}", owner=owner)
    except StudioError as exc:
        return None, f"⚠️ {t.error(exc)}"
    return job.id, t("export.lm_queued", id=job.id)


def on_poll(studio, job_id: str | None):
    """(status text, table rows) — the table once the job has succeeded."""
    from ...jobs.events import read_progress

    t = studio.t
    if not job_id:
        return "", gr.update()
    job = studio.manager.get(job_id)
    text = f"**{t('state.' + job.state)}** · {read_progress(job.run_dir).get('message', '')}"
    if job.error and job.state != "running":
        text += f"  \n⚠️ {error_text(job, t.lang)}"
    if job.state != "succeeded":
        return text, gr.update()
    summary = json.loads(Path(job.artifacts["summary"]).read_text(encoding="utf-8"))
    return text, table_rows(summary)


def build(studio) -> None:
    from .export import sources

    t = studio.t
    with gr.Accordion(t("export.lm_title"), open=False, elem_id="lmeval-panel"):
        gr.Markdown(t("export.lm_help"))
        with gr.Row():
            tasks = gr.Textbox(label=t("export.lm_tasks"), placeholder="mmlu, cmmlu, gsm8k", elem_id="lmeval-tasks")
            mc_file = gr.File(label=t("export.lm_mc_file"), file_types=[".jsonl"], elem_id="lmeval-mc-file")
        with gr.Row():
            model = gr.Textbox("smollm2-135m-instruct", label=t("export.lm_model"), elem_id="lmeval-model")
            tuned = gr.Dropdown(sources(studio), label=t("export.lm_tuned"), elem_id="lmeval-tuned")
            limit = gr.Number(0, precision=0, minimum=0, label=t("export.lm_limit"), elem_id="lmeval-limit")
        start = gr.Button(t("export.lm_start"), variant="primary", elem_id="lmeval-start")
        job = gr.State(None)
        status = gr.Markdown(elem_id="lmeval-status")
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="lmeval-table")

    def start_click(request: gr.Request, *values):
        return on_start(studio, *values, owner=getattr(request, "username", None) if request else None)

    start.click(start_click, [tasks, mc_file, model, tuned, limit], [job, status], concurrency_limit=1)
    timer = gr.Timer(3.0, active=False)  # ticks only while the benchmark job is queued or running
    timer.tick(lambda j: on_poll(studio, j), job, [status, table], show_progress="hidden")
    gr.on([job.change, timer.tick], lambda j: timer_update(studio, j), job, timer, show_progress="hidden")
