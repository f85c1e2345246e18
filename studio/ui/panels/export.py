"""Merge page panel: export an adapter or a merged model to GGUF (an `export` job) and show its check.

`build(studio)` is called by the Merge tab in one line. Handlers are module-level functions of
plain values; the work is `studio.export.runner` (also `studio export` on the command line).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ...errors import StudioError
from ...jobs.failure import error_text
from ...export.gguf import QUANTS
from ..job_panel import timer_update


def sources(studio) -> list[tuple[str, str]]:
    """Adapters of finished runs and merged models in the workspace, newest first."""
    ws = studio.workspace
    found = [(f"{p.parent.name} · adapter", p) for p in ws.runs.glob("*/adapter") if p.is_dir()]
    found += [(f"{p.name} · merged", p) for p in ws.merged.iterdir() if (p / "config.json").is_file()] \
        if ws.merged.is_dir() else []
    found.sort(key=lambda item: item[1].stat().st_mtime, reverse=True)
    return [(label, str(path)) for label, path in found]


def on_start(studio, source: str | None, quant: str, name: str, owner: str | None = None):
    """Submit the export job; returns (job id or None, message)."""
    from ...export.runner import default_output, job_spec

    t = studio.t
    try:
        if not source:
            raise StudioError(key="export.source_missing", path="—")
        output = None
        if (name or "").strip():
            stem = Path(name.strip()).name.removesuffix(".gguf")
            output = str(default_output(studio.workspace.exports, stem, quant))
        spec = job_spec(source, "gguf", quant, output, None)
        label = Path(source).parent.name if Path(source).name == "adapter" else Path(source).name
        job = studio.manager.submit("export", spec, title=f"export · {label} · {quant}", owner=owner)
    except StudioError as exc:
        return None, f"⚠️ {t.error(exc)}"
    return job.id, t("export.queued", id=job.id)


def report_markdown(t, report: dict) -> str:
    check = report["check"]
    lines = [t("export.done", path=report["gguf"], size=f"{report['bytes'] / 1e6:.1f}"),
             t("export.files", modelfile=report["modelfile"], readme=report["readme"])]
    stored = check.get("vs_merged_as_stored")
    same = (stored or check["vs_merged"])["same_tokens"]
    lines.append(t("export.check_same" if same else "export.check_differs",
                   diff=f"{(stored or check['vs_merged'])['max_abs_logit_diff']:.2e}"))
    rows = ["| | " + t("export.probe") + " | GGUF |", "|---|---|---|"]
    for p in check["vs_merged"]["probes"]:
        rows.append(f"| {'✅' if p['same_tokens'] else '≠'} | {p['prompt']} | {p['gguf'][:80].replace(chr(10), ' ')} |")
    return "\n\n".join(lines) + "\n\n" + "\n".join(rows)


def on_poll(studio, job_id: str | None):
    from ...jobs.events import read_progress

    t = studio.t
    if not job_id:
        return ""
    job = studio.manager.get(job_id)
    if job.state == "succeeded":
        return report_markdown(t, json.loads(Path(job.artifacts["report"]).read_text(encoding="utf-8")))
    text = f"**{t('state.' + job.state)}** · {read_progress(job.run_dir).get('message', '')}"
    if job.error and job.state != "running":
        text += f"  \n⚠️ {error_text(job, t.lang)}"
    return text


def build(studio) -> None:
    t = studio.t
    with gr.Accordion(t("export.title"), open=False, elem_id="export-panel"):
        gr.Markdown(t("export.help"))
        with gr.Row():
            source = gr.Dropdown(sources(studio), label=t("export.source"), elem_id="export-source", scale=3)
            quant = gr.Dropdown(list(QUANTS), value="q8_0", label=t("export.quant"), elem_id="export-quant", scale=1)
            name = gr.Textbox(label=t("export.name"), elem_id="export-name", scale=2)
        with gr.Row():
            start = gr.Button(t("export.start"), variant="primary", elem_id="export-start")
            refresh = gr.Button(t("export.refresh"), size="sm", elem_id="export-refresh")
        job = gr.State(None)
        report = gr.Markdown(elem_id="export-report")

    def start_click(request: gr.Request, src, q, n):
        return on_start(studio, src, q, n, owner=getattr(request, "username", None) if request else None)

    start.click(start_click, [source, quant, name], [job, report], concurrency_limit=1)
    refresh.click(lambda: gr.update(choices=sources(studio)), None, source)
    timer = gr.Timer(3.0, active=False)  # ticks only while the export job is queued or running
    timer.tick(lambda j: on_poll(studio, j), job, report, show_progress="hidden")
    gr.on([job.change, timer.tick], lambda j: timer_update(studio, j), job, timer, show_progress="hidden")
