"""Data grid panel: search, edit in a grid, add / delete / de-duplicate / shuffle / split, then save
a new version or export JSONL. Every edit re-checks the rows and updates the findings."""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from ...data import edit, store
from ...data import session as sessions
from ...errors import StudioError
from ..context import bind
from .data_page import NONE, DataPage, err, findings_frame, summary_text


def build(studio, page: DataPage) -> None:
    t = studio.t
    view = gr.State([])  # row indices shown in the grid
    with gr.Accordion(t("data.edit_title"), open=True):
        with gr.Row():
            query = gr.Textbox(label=t("data.search"), placeholder=t("data.search_hint"), elem_id="data-search",
                               scale=3)
            column = gr.Dropdown([NONE], value=NONE, label=t("data.column"), elem_id="data-search-column", scale=1)
            do_search = gr.Button(t("data.search_button"), size="sm", scale=1, elem_id="data-search-go")
        grid = gr.Dataframe(label=t("data.grid"), interactive=True, wrap=True, elem_id="data-grid", max_height=420)
        with gr.Row():
            apply_grid = gr.Button(t("data.apply_edits"), variant="primary", elem_id="data-apply-edits")
            add = gr.Button(t("data.add_row"), elem_id="data-add-row")
            delete_spec = gr.Textbox(label=t("data.delete_rows"), placeholder="3, 5-7", elem_id="data-delete-spec")
            delete = gr.Button(t("data.delete"), elem_id="data-delete")
        with gr.Row():
            dedupe = gr.Button(t("data.dedupe"), elem_id="data-dedupe")
            seed = gr.Number(42, precision=0, label=t("data.seed"), elem_id="data-seed")
            shuffle = gr.Button(t("data.shuffle"), elem_id="data-shuffle")
            val = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label=t("data.val_share"), elem_id="data-val")
            split = gr.Button(t("data.split"), elem_id="data-split")
        with gr.Row():
            name = gr.Textbox(label=t("data.name"), elem_id="dataset-name")
            save = gr.Button(t("data.save"), variant="primary", elem_id="save-dataset")
            export = gr.Button(t("data.export"), elem_id="data-export")
        page.message.render()
        export_file = gr.File(label=t("data.exported"), interactive=False, elem_id="data-export-file")

    page.loaded.change(on_loaded, [page.sess, page.loaded], [grid, view, column, name], show_progress="hidden")
    outs = [page.sess, page.summary, page.findings, grid, view, column, page.message]
    do_search.click(bind(on_search, studio), [page.sess, query, column], outs)
    query.submit(bind(on_search, studio), [page.sess, query, column], outs)
    apply_grid.click(bind(on_apply_grid, studio), [page.sess, grid, view], outs)
    add.click(bind(on_add, studio), page.sess, outs)
    delete.click(bind(on_delete, studio), [page.sess, delete_spec], outs)
    dedupe.click(bind(on_dedupe, studio), page.sess, outs)
    shuffle.click(bind(on_shuffle, studio), [page.sess, seed], outs)
    split.click(bind(on_split, studio), [page.sess, val, seed], outs)
    save.click(bind(on_save, studio), [page.sess, name], [page.message, page.findings, page.saved],
               concurrency_limit=1)
    export.click(bind(on_export, studio), [page.sess, name], [page.message, export_file])


# ---------------------------------------------------------------------------------------------- handlers

def grid_values(sess, indices=None) -> tuple:
    """(grid frame, shown indices, column-picker update) for the session's rows."""
    rows = sess.rows if sess else []
    indices = list(range(len(rows))) if indices is None else indices
    fmt = sess.format if sess else None
    return edit.to_grid(rows, indices, fmt), indices, gr.update(choices=[NONE] + edit.columns_of(rows, fmt),
                                                                    value=NONE)


def on_loaded(sess, token) -> tuple:
    """A dataset was loaded by another panel: show its rows and suggest its name."""
    frame, indices, col = grid_values(sess)
    name = (token or {}).get("name")
    return frame, indices, col, gr.update(value=name) if name is not None else gr.update()


def after_edit(studio, sess, text: str, indices=None) -> tuple:
    sess.recheck()
    frame, indices, col = grid_values(sess, indices)
    return sess, summary_text(studio.t, sess), findings_frame(studio.t, sess), frame, indices, col, text


def guarded(fn):
    """An edit handler: nothing loaded or a StudioError becomes a message; other outputs unchanged."""
    @functools.wraps(fn)
    def run(studio, sess, *args):
        if sess is None:
            return [gr.update()] * 6 + [studio.t("data.nothing")]
        try:
            return fn(studio, sess, *args)
        except StudioError as exc:
            return [gr.update()] * 6 + [err(studio.t, exc)]
    return run


@guarded
def on_search(studio, sess, q, col):
    indices = edit.search(sess.rows, q, None if col in (None, NONE) else col)
    frame, indices, _ = grid_values(sess, indices)
    return sess, gr.update(), gr.update(), frame, indices, gr.update(), studio.t("data.found", n=len(indices))


@guarded
def on_apply_grid(studio, sess, frame, indices):
    sess.rows = edit.from_grid(sess.rows, frame)
    sess.lines = []
    return after_edit(studio, sess, studio.t("data.edited", rows=len(sess.rows)), indices)


@guarded
def on_add(studio, sess):
    sess.rows = edit.add_row(sess.rows, sess.format or "alpaca")
    sess.lines = []
    return after_edit(studio, sess, studio.t("data.added", row=len(sess.rows)), [len(sess.rows) - 1])


@guarded
def on_delete(studio, sess, spec):
    before = len(sess.rows)
    sess.rows = edit.delete_rows(sess.rows, spec)
    sess.lines = []
    return after_edit(studio, sess, studio.t("data.deleted", n=before - len(sess.rows)))


@guarded
def on_dedupe(studio, sess):
    sess.rows, removed = edit.drop_duplicates(sess.rows)
    sess.lines = []
    return after_edit(studio, sess, studio.t("data.deduped", n=removed))


@guarded
def on_shuffle(studio, sess, s):
    sess.rows = edit.shuffle(sess.rows, int(s or 0))
    sess.lines = []
    return after_edit(studio, sess, studio.t("data.shuffled", seed=int(s or 0)))


@guarded
def on_split(studio, sess, share, s):
    rows = sess.rows + sess.validation
    sess.rows, sess.validation = edit.split(rows, float(share), int(s or 0))
    sess.lines = []
    return after_edit(studio, sess, studio.t("data.split_done", train=len(sess.rows), val=len(sess.validation)))


def on_save(studio, sess, dataset_name):
    """Save a new version; tells the app (`data.saved`) so dataset pickers refresh."""
    t = studio.t
    if sess is None:
        return t("data.nothing"), gr.update(), gr.update()
    try:
        out = sessions.save(sess, studio.workspace.datasets, dataset_name or Path(sess.file).stem or "dataset",
                            note=f"from {sess.file}")
    except StudioError as exc:
        return err(t, exc), findings_frame(t, sess), gr.update()
    return (t("data.saved", name=out.parent.name, version=out.stem, rows=len(sess.rows)), findings_frame(t, sess),
            out.parent.name)


def on_export(studio, sess, dataset_name):
    t = studio.t
    if sess is None or not sess.rows:
        return t("data.nothing"), None
    out = store.export_jsonl(studio.workspace.exports, dataset_name or Path(sess.file).stem or "dataset", sess.rows)
    return t("data.exported_to", path=out.name, rows=len(sess.rows)), str(out)
