"""Every UI text key used in the code exists in English and Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from studio.ui.i18n import table

UI = Path(__file__).resolve().parents[1] / "studio" / "ui"
KEY = re.compile(r"""\bt\(\s*f?["']([a-z_]+\.[a-z0-9_]+)["']""")


def used_keys() -> set[str]:
    keys = set()
    for path in UI.rglob("*.py"):
        keys |= set(KEY.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_used_key_exists_in_both_languages():
    en, zh = table("en"), table("zh")
    missing = sorted(k for k in used_keys() if k not in en or k not in zh)
    assert not missing, missing


def test_both_languages_have_the_same_keys():
    en, zh = table("en"), table("zh")
    assert sorted(set(en) ^ set(zh)) == []


def test_chinese_texts_are_chinese():
    zh = table("zh")
    with_cjk = [k for k, v in zh.items() if re.search(r"[\u4e00-\u9fff]", v)]
    assert len(with_cjk) >= 0.8 * len(zh)


def test_state_names_are_translated():
    for state in ("queued", "running", "succeeded", "failed", "cancelled", "interrupted"):
        assert table("zh")[f"state.{state}"] != state
