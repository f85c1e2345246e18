"""The memory and time estimate beside the run options: the same numbers as `studio estimate`."""

from __future__ import annotations

import html

import gradio as gr

from ..errors import StudioError

COLORS = {"weights": "#4e79a7", "gradients": "#f28e2b", "optimizer": "#e15759", "activations": "#76b7b2",
          "extra_models": "#59a14f", "method_extra": "#edc948", "overhead": "#bab0ac"}


def build(editor) -> None:
    """Render the panel where it is called and wire its button to the editor's inputs."""
    t = editor.t
    with gr.Accordion(t("estimate.title"), open=False, elem_id="estimate-panel"):
        gr.Markdown(t("estimate.intro"))
        with gr.Row():
            gpu_memory = gr.Textbox(label=t("estimate.gpu_memory"), placeholder="24GiB",
                                    info=t("estimate.gpu_memory_info"), elem_id="estimate-gpu-memory", scale=3)
            button = gr.Button(t("estimate.button"), elem_id="estimate-memory", scale=1)
        bar = gr.HTML(elem_id="estimate-bar")
        result = gr.Markdown(elem_id="estimate-result")
    button.click(lambda memory, *values: render(editor, memory, values), [gpu_memory, *editor.inputs],
                 [bar, result], concurrency_limit=1)


def render(editor, gpu_memory: str | None, values) -> tuple[str, str]:
    from ..estimate import estimate, named_hardware
    from ..spec import build_spec

    t = editor.t
    try:
        spec = build_spec(editor.collect(values), source="form")
        hardware = None
        if gpu_memory and gpu_memory.strip():
            hardware = named_hardware(gpu_memory.strip(), spec.resources.num_gpus, "cuda")
        est = estimate(spec, editor.studio.workspace.root, hardware)
    except StudioError as exc:
        return "", f"⚠️ {exc.one_line()}"
    except Exception as exc:  # noqa: BLE001 - an odd form value must not break the page
        return "", f"⚠️ {type(exc).__name__}: {exc}"
    return bar_html(est, t.lang), result_markdown(est, t)


def bar_html(est, lang: str) -> str:
    """One horizontal bar, a segment per part, scaled to the memory available."""
    from ..estimate import human, text

    scale = max(est.total, est.hardware.memory or 0) or 1
    segments = []
    for key, size in est.parts.items():
        if size <= 0:
            continue
        label = html.escape(f"{text(lang, key)}: {human(size)}")
        segments.append(f'<div title="{label}" style="width:{100 * size / scale:.2f}%;background:{COLORS[key]};'
                        f'height:18px"></div>')
    limit = ""
    if est.hardware.memory:
        limit = f'<div style="position:absolute;left:{100 * est.hardware.memory / scale:.2f}%;top:-3px;' \
                'height:24px;border-left:2px solid #222"></div>'
    return ('<div style="position:relative;display:flex;width:100%;background:#eee;border-radius:3px">'
            + "".join(segments) + limit + "</div>")


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
