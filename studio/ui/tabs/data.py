"""Data tab: upload a file, see its detected format, problems and rows, save it as a dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from ...data import store
from ...data.findings import DataError
from ...data.prepare import load_rows
from ...errors import StudioError
from ...workspace import safe_name


def _copy_upload(studio, temp_path: str) -> Path:
    """Keep the uploaded file in the workspace (gradio's temp copy may be cleaned up)."""
    source = Path(temp_path)
    target = studio.workspace.uploads / safe_name(source.name, "file name")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def build(studio, handles):
    t = studio.t
    path_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(label=t("data.upload"), file_types=[".json", ".jsonl", ".csv", ".tsv", ".parquet",
                                                                 ".xlsx", ".xls"], elem_id="data-upload")
            summary = gr.Markdown(elem_id="data-summary")
            name = gr.Textbox(label=t("data.name"), elem_id="dataset-name")
            save = gr.Button(t("data.save"), variant="primary", elem_id="save-dataset")
            saved = gr.Markdown(elem_id="data-saved")
        with gr.Column(scale=2):
            findings = gr.Dataframe(headers=["severity", "where", "problem"], label=t("data.findings"),
                                    interactive=False, elem_id="data-findings", wrap=True)
            preview = gr.Dataframe(label=t("data.preview"), interactive=False, elem_id="data-preview", wrap=True)

    def on_upload(file):
        if file is None:
            return None, "", pd.DataFrame(), pd.DataFrame(), gr.update()
        path = _copy_upload(studio, file if isinstance(file, str) else file.name)
        try:
            loaded = load_rows(str(path))
        except DataError as exc:
            rows = [[f.severity, f.place(), f"{f.message} — {f.hint}"] for f in exc.findings]
            return None, f"⚠️ {exc.one_line()}", pd.DataFrame(rows, columns=["severity", "where", "problem"]), \
                pd.DataFrame(), gr.update()
        except StudioError as exc:
            return None, f"⚠️ {exc.one_line()}", pd.DataFrame(), pd.DataFrame(), gr.update()
        rows = [[f.severity, f.place(), f"{f.message} — {f.hint}"] for f in loaded.warnings]
        text = t("data.detected", file=path.name, format=loaded.format, rows=len(loaded.table.rows))
        frame = pd.DataFrame(loaded.table.rows[:200]).astype(str)
        return str(path), text, pd.DataFrame(rows, columns=["severity", "where", "problem"]), frame, \
            gr.update(value=Path(path).stem)

    upload.change(on_upload, upload, [path_state, summary, findings, preview, name])

    def on_save(path, dataset_name):
        if not path:
            return t("data.nothing")
        try:
            loaded = load_rows(path)
            out = store.save_dataset(studio.workspace.datasets, dataset_name or Path(path).stem, loaded.table.rows,
                                     loaded.format, note=f"imported from {Path(path).name}")
        except StudioError as exc:
            return f"⚠️ {exc.one_line()}"
        return t("data.saved", name=out.parent.name, version=out.stem, rows=len(loaded.table.rows))

    save.click(on_save, [path_state, name], saved)
    return None
