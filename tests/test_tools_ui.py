"""The documents, export and TensorBoard panels: they build, and their handlers work on real files."""

from __future__ import annotations

import json

import pytest

from test_docs import make_documents


@pytest.fixture
def studio(workspace, manager):
    from studio.ui.context import Studio
    from studio.ui.i18n import Translator

    return Studio(workspace=workspace, manager=manager, t=Translator("zh"))


def test_panels_build_in_both_languages(workspace, manager):
    import gradio as gr

    from studio.ui.context import Studio
    from studio.ui.i18n import Translator
    from studio.ui.panels import docs_import, export, tensorboard

    for lang in ("en", "zh"):
        studio = Studio(workspace=workspace, manager=manager, t=Translator(lang))
        with gr.Blocks():
            docs_import.build(studio)
            export.build(studio)
            tensorboard.build(studio)


def test_ui_texts_exist_in_both_languages():
    import yaml

    from studio.ui.i18n import LOCALES

    for name in ("docs", "export"):
        en = yaml.safe_load((LOCALES / "en" / f"{name}.yaml").read_text())
        zh = yaml.safe_load((LOCALES / "zh" / f"{name}.yaml").read_text())
        assert set(en) == set(zh), set(en) ^ set(zh)
    from studio.i18n import LOCALES as CORE

    for name in ("docs", "export", "tracking", "lmeval"):
        en = yaml.safe_load((CORE / "en" / f"{name}.yaml").read_text())
        zh = yaml.safe_load((CORE / "zh" / f"{name}.yaml").read_text())
        assert set(en) == set(zh) and all(set(en[k]) == set(zh[k]) for k in en)


def test_docs_panel_handlers(studio, tmp_path):
    import pandas as pd

    from studio.ui.panels import docs_import

    docs = make_documents(tmp_path / "in")
    update, message = docs_import.on_start(studio, [], "embedded", "", "", "", 2, 1500, 0.6)
    assert message.startswith("⚠️") and "文档" in message  # no files: said in the viewer's language
    update, message = docs_import.on_start(studio, [str(docs["md"]), str(docs["broken"])], "local",
                                           "tiny-random-llama", "", "", 1, 1500, 0.6)
    job_id = update["value"]
    assert job_id and job_id in message
    job = studio.manager.get(job_id)
    spec_files = job.spec["files"]
    assert all(str(studio.workspace.uploads) in f for f in spec_files)  # copied into the workspace
    studio.manager.cancel(job_id, wait=True)
    frame, note = docs_import.on_review(studio, job_id)
    assert list(frame.columns) == docs_import.REVIEW_COLUMNS
    grid = pd.DataFrame([{"keep": True, "instruction": "Where was Orbiton founded?", "output": "In Lisbon",
                          "source": "notes.md", "page": "", "heading": "Orbiton Company", "status": "kept",
                          "detail": ""}])
    saved = docs_import.on_save(studio, grid, "qa-from-docs")
    assert "qa-from-docs" in saved and "1" in saved
    row = json.loads((studio.workspace.datasets / "qa-from-docs" / "v1.jsonl").read_text().splitlines()[0])
    assert row["source"] == "notes.md" and row["output"] == "In Lisbon"


def test_export_panel_refuses_and_queues(studio, tmp_path):
    from studio.ui.panels import export

    job, message = export.on_start(studio, None, "q8_0", "")
    assert job is None and message.startswith("⚠️")
    job, message = export.on_start(studio, str(tmp_path), "q4_k_m", "")
    assert job is None and "llama-quantize" in message
