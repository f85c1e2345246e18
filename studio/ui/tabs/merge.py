"""Merge page: fold an adapter into its base, combine adapters, or make a model soup — as a merge job.

The handlers build the job spec and read `merge_report.json` back when the job panel says the job
ended; merging itself is `studio.merge.runner` (also `studio merge` on the command line).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ...errors import StudioError
from ...merge.runner import COMBINATIONS, DTYPES
from .. import choices
from ..context import bind
from ..job_panel import JobPanel
from ..panels import export as export_panel


def merge_spec(mode: str, adapter: str | None, adapters: list[str], models: list[str], weights: str,
               combination: str, density: float, name: str, dtype: str) -> dict:
    """The merge job's spec from the form, through the builder `studio merge` uses (raises StudioError)."""
    from ...merge.spec import merge_spec as build

    try:
        numbers = [float(w) for w in (weights or "").replace(" ", "").split(",") if w] or None
    except ValueError:
        raise StudioError(key="ui.merge_bad_weights") from None
    sources = [adapter] if mode == "merge" else (adapters if mode == "combine" else models)
    return build(sources or [], mode, numbers, combination, density, dtype, None, name).model_dump(mode="json")


def report_markdown(report: dict, t) -> str:
    check = report["verification"]
    ref_key = "ref_merge_quantized" if report.get("quantized_base") else f"ref_{report['mode']}"
    lines = [t("merge.done", path=report["output"]),
             t("merge.check", reference=t(f"merge.{ref_key}"), diff=f"{check['max_abs_logit_diff']:.2e}",
               tol=check["tolerance"], dtype=report["dtype"], agree=f"{check['top1_agreement']:.1%}") + " · " +
             t("merge.check_ok" if check["within_tolerance"] else "merge.check_bad")]
    if check.get("note"):
        lines.append(f"_{check['note']}_")
    if report.get("adapter"):
        lines.append(t("merge.adapter_saved", path=report["adapter"]))
    if report.get("distance_to_ingredients"):
        lines.append(f"**{t('merge.distances')}:** " + ", ".join(
            f"{Path(k).name}: {v['max_abs_logit_diff']:.2e}" for k, v in report["distance_to_ingredients"].items()))
    return "\n\n".join(lines)


def build(studio) -> None:
    t = studio.t
    mode = gr.Radio([(t("merge.mode_merge"), "merge"), (t("merge.mode_combine"), "combine"),
                     (t("merge.mode_soup"), "soup")], value="merge", label=t("merge.mode"), elem_id="merge-mode")
    with gr.Row():
        adapter = gr.Dropdown(choices.adapters(studio, "merge"), label=t("merge.adapter"), elem_id="merge-adapter",
                              scale=3)
        adapters = gr.CheckboxGroup(choices.adapters(studio, "merge"), label=t("merge.adapters"), visible=False,
                                    elem_id="merge-adapters", scale=3)
        models = gr.CheckboxGroup(choices.merged_models(studio, "merge"), label=t("merge.models"), visible=False,
                                  elem_id="merge-models", scale=3)
    with gr.Row():
        weights = gr.Textbox(label=t("merge.weights"), visible=False, elem_id="merge-weights", scale=2)
        combination = gr.Dropdown(list(COMBINATIONS), value="linear", label=t("merge.combination"), visible=False,
                                  scale=1)
        density = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label=t("merge.density"), visible=False, scale=1)
    with gr.Row():
        name = gr.Textbox(label=t("merge.name"), elem_id="merge-name", scale=2)
        dtype = gr.Dropdown(list(DTYPES), value="float32", label=t("merge.dtype"), scale=1)
    with gr.Row():
        start = gr.Button(t("merge.start"), variant="primary", elem_id="merge-start")
        refresh = gr.Button(t("merge.refresh"), size="sm")
    message = gr.Markdown(elem_id="merge-message")
    panel = JobPanel.build(studio, kinds=("merge",), elem_prefix="merge", actions=("cancel", "clone"), log_lines=6)
    report = gr.Markdown(elem_id="merge-report")

    mode.change(on_mode, mode, [adapter, adapters, models, weights, combination, density])
    start.click(bind(on_start, studio),
                [mode, adapter, adapters, models, weights, combination, density, name, dtype],
                [panel.follow, message])
    refresh.click(bind(refresh_sources, studio), None, [adapter, adapters, models])
    panel.finished.change(bind(on_finished, studio), panel.finished, report, show_progress="hidden")
    export_panel.build(studio)  # GGUF export of an adapter or a merged model


def on_mode(m: str) -> list:
    return [gr.update(visible=m == "merge"), gr.update(visible=m == "combine"), gr.update(visible=m == "soup"),
            gr.update(visible=m != "merge"), gr.update(visible=m == "combine"), gr.update(visible=m == "combine")]


def refresh_sources(studio) -> list:
    return [gr.update(choices=choices.adapters(studio, "merge")), gr.update(choices=choices.adapters(studio, "merge")),
            gr.update(choices=choices.merged_models(studio, "merge"))]


def on_start(studio, request: gr.Request, m, one, many, soup_models, w, comb, dens, out_name, dt):
    try:
        spec = merge_spec(m, one, many, soup_models, w, comb, dens, out_name, dt)
        source = Path(spec.get("adapter") or (spec.get("adapters") or spec.get("models"))[0])
        job = studio.manager.submit("merge", spec, title=f"merge · {m} · {source.parent.name}",
                                    owner=getattr(request, "username", None))
    except StudioError as exc:
        return gr.update(), f"⚠️ {studio.t.error(exc)}"
    return job.id, studio.t("merge.queued", id=job.id)


def on_finished(studio, job_id: str | None) -> str:
    """The merge report of the job the panel shows, once it has ended ('' while it runs)."""
    if not job_id:
        return ""
    job = studio.manager.get(job_id)
    path = job.artifacts.get("report")
    if job.state != "succeeded" or not path or not Path(path).is_file():
        return ""
    return report_markdown(json.loads(Path(path).read_text(encoding="utf-8")), studio.t)
