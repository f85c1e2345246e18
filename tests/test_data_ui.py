"""The Data page's panels: handlers imported from their modules and called on real files, in both
languages (no browser: tests/test_ui_browser.py clicks through the page)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLES


@pytest.fixture
def studio(workspace, manager):
    from studio.ui.context import Studio
    from studio.ui.i18n import Translator

    return Studio(workspace=workspace, manager=manager, t=Translator("en"))


@pytest.fixture
def zh(workspace, manager):
    from studio.ui.context import Studio
    from studio.ui.i18n import Translator

    return Studio(workspace=workspace, manager=manager, t=Translator("zh"))


def test_the_data_page_builds_from_its_panels_in_both_languages(workspace, manager):
    from studio.ui.app import build_app
    from studio.ui.tabs import data

    for lang in ("zh", "en"):
        demo = build_app(workspace, manager, lang=lang)
    ids = {b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert {"data-upload", "data-summary", "data-findings", "data-grid", "dataset-name", "save-dataset",
            "data-saved", "data-histogram", "si-start", "si-job", "si-progress"} <= ids
    assert data.PANELS[:4] == ["data_import", "data_preview", "data_grid", "self_instruct"]
    assert data.panel_module("no_such_panel") is None  # an optional panel that is absent is skipped


def test_upload_edit_save_export(studio, workspace):
    from studio.data import store
    from studio.ui.panels import data_grid, data_import

    source, sess, token, summary, _findings, _message, *slots = data_import.on_upload(
        studio, str(SAMPLES / "alpaca_zh_excel_gbk.csv"))
    assert Path(source).parent == workspace.uploads and sess.format == "alpaca" and len(sess.rows) == 2
    assert token["name"] == "alpaca_zh_excel_gbk" and "alpaca" in summary
    assert [s["label"] for s in slots if s.get("visible")][:3] == ["instruction*", "output*", "input"]
    grid, indices, _column, name = data_grid.on_loaded(sess, token)
    assert list(grid.columns) == ["#", "instruction", "input", "output"] and indices == [0, 1]
    assert name["value"] == "alpaca_zh_excel_gbk"

    out = data_grid.on_add(studio, sess)
    sess = out[0]
    assert len(sess.rows) == 3 and "row 3" in out[-1]
    assert any(f.severity == "error" for f in sess.findings)  # the new empty row lacks its fields
    message, _findings, saved = data_grid.on_save(studio, sess, "zh data")
    assert message.startswith("⚠️") and saved["__type__"] == "update"  # refused: nothing written
    assert store.list_datasets(workspace.datasets) == []
    out = data_grid.on_delete(studio, sess, "3")
    message, _findings, saved = data_grid.on_save(studio, out[0], "zh data")
    assert "zh-data" in message and saved == "zh-data" and store.list_datasets(workspace.datasets) == ["zh-data"]
    text, exported = data_grid.on_export(studio, out[0], "/etc/zh")
    assert Path(exported).parent == workspace.exports and "exports/" in text
    assert data_grid.on_add(studio, None)[-1] == studio.t("data.nothing")


def test_findings_and_errors_in_chinese(zh, workspace):
    from studio.ui.panels import data_grid, data_import

    out = data_import.on_upload(zh, str(SAMPLES / "alpaca_zh_excel_gbk.csv"))
    sess = out[1]
    out = data_grid.on_add(zh, sess)
    findings = out[2]
    assert isinstance(findings, pd.DataFrame) and findings.columns[0] == "级别"
    assert "错误" in set(findings.iloc[:, 0])
    out = data_grid.on_delete(zh, out[0], "9-12")
    assert out[-1].startswith("⚠️") and "1..3" in out[-1] and "检查" in out[-1]


def test_preview_and_length_histogram(studio, tiny_model):
    from studio.ui.panels import data_import, data_preview

    sess = data_import.on_upload(studio, str(SAMPLES / "identity_alpaca.jsonl"))[1]
    html = data_preview.on_preview(studio, sess, "tiny-random-llama", "chatml", "sft", 64, 1)
    assert "tokens" in html and "<" in html
    assert data_preview.on_preview(studio, sess, "tiny-random-llama", "chatml", "sft", 64, 999).startswith("⚠️")
    _fields, hist, _text, _findings, sess = data_preview.on_measure(studio, sess, "tiny-random-llama", "chatml", "sft",
                                                                 24)
    assert int(hist["rows"].sum()) == len(sess.rows) and set(hist["fits"]) <= {"fits", "over"}
    assert "over" in set(hist["fits"])  # 24 tokens is shorter than some rows
    assert any("max_length" in f.hint for f in sess.findings)
    assert data_preview.on_preview(studio, None, "tiny-random-llama", "chatml", "sft", 64, 1).startswith("⚠️")


def test_self_instruct_review_to_editor_and_seeds(studio, workspace):
    from studio.data import session as sessions
    from studio.ui.panels import self_instruct

    frame = pd.DataFrame([{"keep": True, "instruction": "Say hi", "input": "", "output": "Hi", "status": "ok",
                           "detail": ""},
                          {"keep": False, "instruction": "Drop me", "input": "", "output": "x", "status": "ok",
                           "detail": ""}])
    sess, token, _summary, _findings, _message = self_instruct.on_to_editor(studio, frame)
    assert [r["instruction"] for r in sess.rows] == ["Say hi"] and token["name"] == "self-instruct"
    text, saved = self_instruct.on_si_save(studio, frame, "generated")
    assert saved == "generated" and "generated" in text
    seeds = self_instruct.write_seeds(studio, sessions.Session([{"instruction": "a", "output": "b"}], "alpaca", "x"))
    assert Path(seeds).parent == workspace.uploads
    _f, message, _k = self_instruct.on_si_start(studio, None, "k", None, "saved", None, "embedded", "", "", "",
                                                 5, 0, 0.7, 3, 150, "", False, "rule")
    assert message.startswith("⚠️") and "seed" in message
    assert list(self_instruct.counts_frame(studio, None).columns) == ["count", "value"]
