"""Issue 11 item 7: LLaMA-Factory dataset_info.json: pretraining entries read as text, hub entries skipped
with a message per entry."""

from __future__ import annotations

import json

import pytest

from studio.data.findings import DataError
from studio.data.prepare import load_rows


@pytest.fixture
def lf_folder(tmp_path):
    folder = tmp_path / "lf"
    folder.mkdir()
    (folder / "c4_demo.jsonl").write_text("".join(json.dumps({"text": f"document {i} about things."}) + "\n"
                                                  for i in range(3)), encoding="utf-8")
    (folder / "wiki_demo.txt").write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    (folder / "alpaca.json").write_text(json.dumps([{"instruction": "Hi", "input": "", "output": "Hello"}]),
                                        encoding="utf-8")
    info = {
        "c4_demo": {"file_name": "c4_demo.jsonl", "columns": {"prompt": "text"}},
        "wiki_demo": {"file_name": "wiki_demo.txt", "columns": {"prompt": "text"}},
        "alpaca": {"file_name": "alpaca.json"},
        "alpaca_en": {"hf_hub_url": "llamafactory/alpaca_en", "ms_hub_url": "llamafactory/alpaca_en"},
        "belle": {"script_url": "belle_multiturn"},
    }
    (folder / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return folder


def test_pretraining_entries_are_text(lf_folder):
    loaded = load_rows(f"{lf_folder}#c4_demo")
    assert loaded.format == "text" and loaded.table.rows[0] == {"text": "document 0 about things."}
    wiki = load_rows(f"{lf_folder}#wiki_demo")
    assert wiki.format == "text" and [r["text"] for r in wiki.table.rows] == ["First paragraph.",
                                                                               "Second paragraph."]
    assert load_rows(f"{lf_folder}#alpaca").format == "alpaca"


def test_hub_entries_are_skipped_with_a_message_each(lf_folder):
    loaded = load_rows(f"{lf_folder}#alpaca")
    notes = [w.message for w in loaded.warnings if w.severity == "info"]
    assert any("'alpaca_en' skipped" in n and "hf_hub_url: llamafactory/alpaca_en" in n for n in notes)
    assert any("'belle' skipped" in n and "script_url: belle_multiturn" in n for n in notes)
    with pytest.raises(DataError, match="alpaca_en.*not a local file"):
        load_rows(f"{lf_folder}#alpaca_en")


def test_the_readers_llamafactory_cycle_is_gone():
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "studio" / "data" / "llamafactory.py"
    imported = {node.module for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ImportFrom)}
    assert "readers" not in imported
