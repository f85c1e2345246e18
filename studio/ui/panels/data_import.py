"""Data import panel: upload a file or open a saved dataset, see the detected format, map columns.

Loading replaces the page's session (`DataPage.sess`) and changes `DataPage.loaded`, which the
other panels follow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr

from ...data import formats, mapping, store
from ...data import session as sessions
from ...workspace import safe_name
from ..context import bind
from .data_page import NONE, DataPage, shown_values

MAP_SLOTS = 6  # mapping dropdowns: enough for the widest format (alpaca: 5 fields)
UPLOAD_TYPES = [".json", ".jsonl", ".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xls"]


def build(studio, page: DataPage) -> None:
    t = studio.t
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(label=t("data.upload"), file_types=UPLOAD_TYPES, elem_id="data-upload")
            with gr.Row():
                saved_pick = gr.Dropdown(store.list_datasets(studio.workspace.datasets), label=t("data.open_saved"),
                                         elem_id="data-open-saved", scale=3)
                open_saved = gr.Button(t("data.open"), size="sm", scale=1, elem_id="data-open")
            page.summary.render()
        with gr.Column(scale=3):
            with gr.Row():
                fmt_pick = gr.Dropdown(["auto"] + list(formats.FORMATS), value="auto", label=t("data.format"),
                                       elem_id="data-format")
                apply_map = gr.Button(t("data.apply_mapping"), size="sm", elem_id="data-apply-mapping")
            gr.Markdown(t("data.mapping_help"))
            with gr.Row():
                slots = [gr.Dropdown([NONE], value=NONE, label=t("data.field_n", n=i + 1), visible=False,
                                     elem_id=f"data-map-{i}", allow_custom_value=False) for i in range(MAP_SLOTS)]
    page.findings.render()

    outs = [page.source, *page.shown(), *slots]
    upload.upload(bind(on_upload, studio), upload, outs)
    open_saved.click(bind(on_open_saved, studio), saved_pick, outs)
    fmt_pick.change(on_format, [page.sess, fmt_pick], slots)
    apply_map.click(bind(on_apply_mapping, studio), [page.source, page.sess, fmt_pick, *slots],
                    outs[1:])
    page.saved.change(bind(saved_update, studio), page.saved, saved_pick, show_progress="hidden")


# ---------------------------------------------------------------------------------------------- handlers

def copy_upload(studio, temp_path: str) -> Path:
    """Keep the uploaded file in the workspace (gradio's temp copy may be cleaned up)."""
    source = Path(temp_path)
    target = studio.workspace.uploads / safe_name(source.name, "file name")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def loaded(studio, sess, message: str = "", name: str | None = None) -> list:
    """Outputs after loading `sess`, without `source`: shown parts and mapping slots."""
    return [*shown_values(studio.t, sess, message, name), *mapping_updates(studio.t, sess, sess.format if sess else None)]


def on_upload(studio, file) -> list:
    """An uploaded file: copied into the workspace, read with its format and findings."""
    if file is None:
        return [None, *loaded(studio, None)]
    path = copy_upload(studio, file if isinstance(file, str) else file.name)
    return [str(path), *loaded(studio, sessions.open_data(path))]


def on_open_saved(studio, ref: str | None) -> list:
    t = studio.t
    if not ref:
        return [None, *loaded(studio, None, t("data.nothing"))]
    path = store.resolve(studio.workspace.datasets, ref)
    return [str(path), *loaded(studio, sessions.open_data(path), name=ref)]


def mapping_updates(t, sess, fmt) -> list:
    """One dropdown per field of the (chosen or guessed) format, preset to the guessed column."""
    if sess is None:
        return [gr.update(visible=False) for _ in range(MAP_SLOTS)]
    chosen = fmt if fmt in formats.FORMATS else (sess.format or None)
    guess = sessions.suggested_mapping(sess, chosen)
    if chosen is None and guess:
        chosen = mapping.suggest(sess.raw_columns)[0]
    schema = formats.get(chosen) if chosen else None
    fields = list(schema.required + schema.optional) if schema else []
    ups = []
    for i in range(MAP_SLOTS):
        if i < len(fields):
            req = "*" if fields[i] in schema.required else ""
            ups.append(gr.update(visible=True, label=f"{fields[i]}{req}", choices=[NONE] + sess.raw_columns,
                                 value=guess.get(fields[i], NONE)))
        else:
            ups.append(gr.update(visible=False, value=NONE))
    return ups


def on_format(sess, fmt) -> list:
    return mapping_updates(None, sess, fmt)


def on_apply_mapping(studio, path, sess, fmt, *values) -> list:
    """Re-read the file with the chosen format and column mapping."""
    t = studio.t
    if not path:
        return loaded(studio, sess, t("data.nothing"))
    chosen = fmt if fmt in formats.FORMATS else (sess.format if sess and sess.format else None)
    if chosen is None and sess is not None:
        chosen = mapping.suggest(sess.raw_columns)[0]
    fields = list(formats.get(chosen).required + formats.get(chosen).optional) if chosen else []
    columns = {src: field for field, src in zip(fields, values) if src and src != NONE and src != field}
    new = sessions.open_data(path, chosen or "auto", columns)
    return loaded(studio, new, t("data.mapped", format=new.format or "?"))


def saved_update(studio, _name=None):
    return gr.update(choices=store.list_datasets(studio.workspace.datasets))
