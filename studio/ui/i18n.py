"""UI texts in English and Simplified Chinese.

Texts live in `locales/<lang>/<section>.yaml` (one file per tab, so tabs are edited independently);
a key is `section.name`. A missing Chinese text falls back to English, a missing key shows itself
(and a test checks that every key used exists in both languages).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from ..i18n import text as core_text

LANGS = ("en", "zh")
LOCALES = Path(__file__).parent / "locales"
# libyaml's safe loader where PyYAML has it: the same result, parsed about 10x faster (every label of both
# language pages is read at start-up; bench/startup.py)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def table(lang: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    folder = LOCALES / lang
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for key, value in data.items():
            texts[f"{path.stem}.{key}"] = str(value)
    return texts


class Translator:
    def __init__(self, lang: str = "en"):
        self.lang = lang if lang in LANGS else "en"

    def __call__(self, key: str, **values) -> str:
        text = table(self.lang).get(key) or table("en").get(key)
        if text is None:  # the core's own texts (errors, findings): studio/locales/
            return core_text(key, self.lang, **values)
        return text.format(**values) if values else text

    def error(self, exc) -> str:
        """A StudioError as one line in this translator's language."""
        return exc.one_line(self.lang)
