"""Merge tab: fold an adapter into its base, combine adapters, or make a model soup — as a merge job.

The handlers build the job spec and read `merge_report.json` back; merging itself is
`studio.merge.runner` (also `studio merge` on the command line).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ...errors import StudioError
from ...jobs.events import read_progress
from ...merge.runner import COMBINATIONS, DTYPES
from ..monitor import progress_html
from .chat import adapter_choices, merged_choices


def merge_spec(mode: str, adapter: str | None, adapters: list[str], models: list[str], weights: str,
               combination: str, density: float, name: str, dtype: str) -> dict:
    """The merge job's spec from the form, through the builder `studio merge` uses (raises StudioError)."""
    from ...merge.spec import merge_spec as build

    try:
        numbers = [float(w) for w in (weights or "").replace(" ", "").split(",") if w] or None
    except ValueError:
        raise StudioError("Weights must be numbers separated by commas", "e.g. 0.7, 0.3") from None
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


def build(studio, handles):
    t = studio.t
    mode = gr.Radio([(t("merge.mode_merge"), "merge"), (t("merge.mode_combine"), "combine"),
                     (t("merge.mode_soup"), "soup")], value="merge", label=t("merge.mode"), elem_id="merge-mode")
    with gr.Row():
        adapter = gr.Dropdown(adapter_choices(studio), label=t("merge.adapter"), elem_id="merge-adapter", scale=3)
        adapters = gr.CheckboxGroup(adapter_choices(studio), label=t("merge.adapters"), visible=False,
                                    elem_id="merge-adapters", scale=3)
        models = gr.CheckboxGroup(merged_choices(studio), label=t("merge.models"), visible=False,
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
    job_state = gr.State(None)
    progress = gr.HTML(elem_id="merge-progress")
    report = gr.Markdown(elem_id="merge-report")

    def on_mode(m):
        return [gr.update(visible=m == "merge"), gr.update(visible=m == "combine"), gr.update(visible=m == "soup"),
                gr.update(visible=m != "merge"), gr.update(visible=m == "combine"), gr.update(visible=m == "combine")]

    mode.change(on_mode, mode, [adapter, adapters, models, weights, combination, density])

    def on_start(request: gr.Request, m, one, many, soup_models, w, comb, dens, out_name, dt):
        try:
            spec = merge_spec(m, one, many, soup_models, w, comb, dens, out_name, dt)
            source = Path(spec.get("adapter") or (spec.get("adapters") or spec.get("models"))[0])
            job = studio.manager.submit("merge", spec, title=f"merge · {m} · {source.parent.name}",
                                        owner=getattr(request, "username", None))
        except StudioError as exc:
            return None, f"⚠️ {exc.one_line()}"
        return job.id, t("merge.queued", id=job.id)

    start.click(on_start, [mode, adapter, adapters, models, weights, combination, density, name, dtype],
                [job_state, report])
    refresh.click(lambda: [gr.update(choices=adapter_choices(studio)), gr.update(choices=adapter_choices(studio)),
                           gr.update(choices=merged_choices(studio))], None, [adapter, adapters, models])

    def poll(job_id):
        if not job_id:
            return "", gr.update()
        job = studio.manager.get(job_id)
        html = progress_html(job, read_progress(job.run_dir), t)
        if job.state == "succeeded":
            return html, report_markdown(json.loads(Path(job.artifacts["report"]).read_text()), t)
        return html, gr.update()

    gr.Timer(2.0).tick(poll, job_state, [progress, report], show_progress="hidden")
    return None
