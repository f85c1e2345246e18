"""Data preview panel: what the model sees for one row (trained tokens marked), field statistics and
the token-length histogram against the maximum length."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ...data import formats, stats
from ...errors import StudioError
from .. import charts, choices
from ..context import bind
from .data_page import NONE, DataPage, err, findings_frame, require_rows

TEMPLATES = [NONE, "chatml", "alpaca", "llama3"]


def stage_choices(lang: str) -> list[tuple[str, str]]:
    from ... import stages

    return [(s.text("title", lang), s.name) for s in sorted(stages.REGISTRY, key=lambda s: s.order)]


def build(studio, page: DataPage) -> None:
    t = studio.t
    with gr.Accordion(t("data.preview_title"), open=True):
        with gr.Row():
            model = gr.Dropdown(choices.models(studio), value=choices.DEFAULT_MODEL, allow_custom_value=True,
                                label=t("data.model"), elem_id="data-model", scale=3)
            template = gr.Dropdown(TEMPLATES, value=NONE, label=t("data.template"), elem_id="data-template", scale=2)
            stage = gr.Dropdown(stage_choices(t.lang), value="sft", label=t("data.stage"), elem_id="data-stage",
                                scale=2)
            max_len = gr.Number(1024, precision=0, minimum=16, label=t("data.max_length"), elem_id="data-max-length",
                                scale=1)
            row_no = gr.Number(1, precision=0, minimum=1, label=t("data.row"), elem_id="data-preview-row", scale=1)
        with gr.Row():
            show = gr.Button(t("data.show_preview"), elem_id="data-show-preview")
            measure = gr.Button(t("data.measure"), elem_id="data-measure")
        gr.Markdown(t("data.legend"))
        preview_html = gr.HTML(elem_id="data-preview")
        with gr.Row():
            fields_table = gr.Dataframe(headers=field_headers(t), label=t("data.fields"), interactive=False,
                                        elem_id="data-fields", scale=2)
            hist = gr.BarPlot(charts.length_histogram([]), x="tokens", y="rows", color="fits",
                              color_map={"fits": "#4e79a7", "over": "#e15759"}, title=t("data.histogram"),
                              elem_id="data-histogram", sort=None, x_label_angle=-45, height=260, scale=3)
        length_md = gr.Markdown(elem_id="data-lengths")

    show.click(bind(on_preview, studio), [page.sess, model, template, stage, max_len, row_no],
               preview_html)
    measure.click(bind(on_measure, studio), [page.sess, model, template, stage, max_len],
                  [fields_table, hist, length_md, page.findings, page.sess])


def field_headers(t) -> list[str]:
    return [t("data.fields_field"), t("data.fields_rows"), t("data.fields_types")]


def tokenizer_for(model_name, template_name):
    from ...data.preview import load_tokenizer

    return load_tokenizer(model_name, None if template_name in (None, NONE) else template_name)


def target_of(stage_name: str) -> str:
    from ... import stages

    return stages.REGISTRY.get(stage_name or "sft").data_target


def converted(sess, stage_name):
    """(target format, rows converted for the stage) of a session without errors."""
    require_rows(sess)
    target = target_of(stage_name)
    convert = formats.converter(formats.get(sess.format), target)
    return target, [convert(r, None) for r in sess.rows]


def on_preview(studio, sess, model_name, template_name, stage_name, max_length, row) -> str:
    from ...data.preview import preview_rows

    t = studio.t
    try:
        target, rows = converted(sess, stage_name)
        index = int(row or 1) - 1
        if not 0 <= index < len(rows):
            raise StudioError(key="ui.no_such_row", row=index + 1, rows=len(rows))
        tok = tokenizer_for(model_name, template_name)
        view = preview_rows([rows[index]], target, tok, int(max_length or 1024), lang=t.lang)[0]
    except StudioError as exc:
        return err(t, exc)
    notes = list(view.notes)
    if view.dropped():
        notes.append(t("data.row_dropped", tokens=view.length))
    elif view.truncated():
        notes.append(t("data.row_cut", tokens=view.length, max=int(max_length)))
    head = t("data.preview_head", tokens=view.length, trained=sum(sum(s.trained) for s in view.sequences))
    return f"<p>{head}</p>" + "".join(f"<p>⚠️ {n}</p>" for n in notes) + view.html()


def on_measure(studio, sess, model_name, template_name, stage_name, max_length):
    """Field statistics, the length histogram and the rows too long for `max_length` (as findings)."""
    from ...data.checks import length_findings

    t = studio.t
    limit = int(max_length or 1024)
    fields = pd.DataFrame(stats.fields_present(sess.rows if sess else []), columns=field_headers(t))
    try:
        target, rows = converted(sess, stage_name)
        tok = tokenizer_for(model_name, template_name)
        long_rows, lengths = length_findings(sess.table(), rows, target, tok, limit)
    except StudioError as exc:
        return fields, charts.length_histogram([]), err(t, exc), findings_frame(t, sess), sess
    sess.recheck()
    sess.findings = sess.findings + long_rows
    s = stats.length_summary(lengths, limit)
    text = t("data.lengths", **{k: s.get(k, 0) for k in ("rows", "min", "p50", "p95", "max", "over_max_length")})
    return fields, charts.length_histogram(lengths, limit), text, findings_frame(t, sess), sess
