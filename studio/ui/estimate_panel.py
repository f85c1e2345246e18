"""The memory and time estimate beside the run options: the same numbers as `studio estimate`,
drawn as a bar against the device's memory."""

from __future__ import annotations

import gradio as gr

from ..errors import StudioError
from . import charts
from .context import bind


def build(studio, inputs: list, collect) -> None:
    """Render the panel where it is called; its button sends `inputs` through `collect(values) -> raw spec`."""
    t = studio.t
    with gr.Accordion(t("estimate.title"), open=False, elem_id="estimate-panel"):
        gr.Markdown(t("estimate.intro"))
        with gr.Row():
            gpu_memory = gr.Textbox(label=t("estimate.gpu_memory"), placeholder="24GiB",
                                    info=t("estimate.gpu_memory_info"), elem_id="estimate-gpu-memory", scale=3)
            button = gr.Button(t("estimate.button"), elem_id="estimate-memory", scale=1)
        bar = gr.HTML(elem_id="estimate-bar")
        result = gr.Markdown(elem_id="estimate-result")
    button.click(bind(on_estimate, studio, collect), [gpu_memory, *inputs], [bar, result],
                 concurrency_limit=1)


def on_estimate(studio, collect, gpu_memory: str | None, *values) -> tuple[str, str]:
    return render(studio, collect(*values), gpu_memory)


def render(studio, raw: dict, gpu_memory: str | None) -> tuple[str, str]:
    """(bar HTML, breakdown Markdown) for a raw run spec; a bad value gives ('', '⚠️ why')."""
    from ..estimate import estimate, named_hardware
    from ..spec import build_spec

    t = studio.t
    try:
        spec = build_spec(raw, source="form")
        hardware = None
        if gpu_memory and gpu_memory.strip():
            hardware = named_hardware(gpu_memory.strip(), spec.resources.num_gpus, "cuda")
        est = estimate(spec, studio.workspace.root, hardware)
    except StudioError as exc:
        return "", f"⚠️ {t.error(exc)}"
    except Exception as exc:  # noqa: BLE001 - an odd form value must not break the page
        return "", f"⚠️ {type(exc).__name__}: {exc}"
    return bar_html(est, t), result_markdown(est, t)


def bar_html(est, t) -> str:
    """One bar, a segment per part, with the device's memory marked (what fits is left of the line)."""
    from ..estimate import human, text

    memory = est.hardware.memory or None
    limit = t("estimate.device_memory", size=human(memory)) if memory else ""
    return charts.memory_bar_html(est.parts, memory, lambda key, size: f"{text(t.lang, key)}: {human(size)}", limit)


def result_markdown(est, t) -> str:
    from ..estimate import human, text

    lang = t.lang
    icon = {"fits": "✅", "tight": "⚠️", "too_big": "⛔", "unknown": "ℹ️"}[est.verdict]
    lines = [f"{icon} **{est.headline(lang)}**", "", f"| {t('estimate.part')} | {t('estimate.size')} | % |",
             "|---|---:|---:|"]
    for key, size in est.parts.items():
        if size > 0:
            lines.append(f"| {text(lang, key)} | {human(size)} | {100 * size / est.total:.0f} |")
    lines += ["", f"⏱ {est.time_line(lang)}"]
    if est.suggestions:
        lines += ["", f"**{t('estimate.suggestions')}**"]
        lines += [f"- {'✓ ' if s.fits else ''}{s.text(lang)}" for s in est.suggestions]
    d = est.details
    lines += ["", t("estimate.details", model=d["model"], params=f"{d['params']:,}", trainable=f"{d['trainable']:,}",
                    batch=d["batch"], seq=d["seq_len"], source=d.get("config_source", ""))]
    return "\n".join(lines)
