"""The Data tab builds in both languages and its thin handlers reach the data functions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from conftest import SAMPLES

TAB = Path(__file__).resolve().parents[1] / "studio" / "ui" / "tabs" / "data.py"
LOCALES = TAB.parents[1] / "locales"


def test_every_data_text_exists_in_english_and_chinese():
    used = set(re.findall(r't\(\s*f?"data\.([a-z_]+)"', TAB.read_text(encoding="utf-8")))
    for lang in ("en", "zh"):
        keys = set(yaml.safe_load((LOCALES / lang / "data.yaml").read_text(encoding="utf-8")))
        assert used <= keys, (lang, used - keys)


def _handler(demo, name):
    fns = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name]
    assert fns, name
    return fns[0].fn


def test_upload_save_export_through_the_tab(workspace, manager):
    from studio.data import store
    from studio.ui.app import build_app

    demo = build_app(workspace, manager, lang="zh")
    demo = build_app(workspace, manager, lang="en")
    out = _handler(demo, "on_upload")(str(SAMPLES / "alpaca_zh_excel_gbk.csv"))
    path, sess = out[0], out[1]
    assert Path(path).parent == workspace.uploads and sess.format == "alpaca" and len(sess.rows) == 2
    grid = out[4]
    assert list(grid.columns) == ["#", "instruction", "input", "output"]
    message, *_ = _handler(demo, "on_save")(sess, "zh data")
    assert "zh-data" in message and store.list_datasets(workspace.datasets) == ["zh-data"]
    text, exported = _handler(demo, "on_export")(sess, "/etc/zh")
    assert Path(exported).parent == workspace.exports and "exports/" in text
