"""Every core error and finding key used in the code has English and Chinese texts (studio/locales/{en,zh})."""

from __future__ import annotations

import re
from pathlib import Path

from studio import i18n

ROOT = Path(__file__).resolve().parents[1]


def test_english_and_chinese_have_the_same_keys():
    en, zh = i18n.read_folder(i18n.LOCALES / "en"), i18n.read_folder(i18n.LOCALES / "zh")
    assert set(en) == set(zh), f"only English: {sorted(set(en) - set(zh))}; only Chinese: {sorted(set(zh) - set(en))}"


KEYED = re.compile(r'StudioError\(\s*key="([\w.]+)"|Finding\.of\(\s*[\w"]+,\s*"([\w.]+)"')


def test_every_raised_key_has_its_text():
    used = {m for p in (ROOT / "studio").rglob("*.py") if p.name not in ("errors.py", "i18n.py")  # docstring examples
            for pair in KEYED.findall(p.read_text(encoding="utf-8")) for m in pair if m}
    assert "readers.jsonl_invalid" in used and "data_prepare.no_data" in used, "the pattern is broken"
    for lang in ("en", "zh"):
        texts = i18n.read_folder(i18n.LOCALES / lang)
        missing = sorted(k for k in used if f"{k}.msg" not in texts and k not in texts)
        assert not missing, f"keys used without a {lang} text: {missing}"
