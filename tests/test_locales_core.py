"""Every core error key raised in the code has English and Chinese texts (studio/locales/{en,zh})."""

from __future__ import annotations

import re
from pathlib import Path

from studio import i18n

ROOT = Path(__file__).resolve().parents[1]


def test_english_and_chinese_have_the_same_keys():
    en, zh = i18n.read_folder(i18n.LOCALES / "en"), i18n.read_folder(i18n.LOCALES / "zh")
    assert set(en) == set(zh), f"only English: {sorted(set(en) - set(zh))}; only Chinese: {sorted(set(zh) - set(en))}"


def test_every_raised_key_has_its_text():
    en = i18n.read_folder(i18n.LOCALES / "en")
    used = {m for p in (ROOT / "studio").rglob("*.py") if p.name not in ("errors.py", "i18n.py")  # docstring examples
            for m in re.findall(r'StudioError\(\s*key="([\w.]+)"', p.read_text(encoding="utf-8"))}
    assert used, "no keyed errors found: the pattern is broken"
    missing = sorted(k for k in used if f"{k}.msg" not in en and k not in en)
    assert not missing, f"keys raised without a text: {missing}"
