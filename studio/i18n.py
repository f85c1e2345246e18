"""Texts the core shows users (errors, findings, summaries) in English and Simplified Chinese.

The core never raises English-only text: an error carries a translation key and its arguments
(`StudioError(key="data.file_not_found", path=...)`), and whoever shows it (the UI in the viewer's
language, the CLI in `STUDIO_LANG`) renders it. Texts live in `studio/locales/<lang>/<section>.yaml`,
one file per area so that areas are edited independently; nested keys are joined with dots, so

    # studio/locales/en/data.yaml
    file_not_found:
      msg: "{path}: file not found"
      hint: "check the path, or upload the file again"

is `data.file_not_found.msg` / `data.file_not_found.hint`. A missing Chinese text falls back to
English; a test fails when any English key lacks its Chinese entry.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

LANGS = ("en", "zh")
LOCALES = Path(__file__).parent / "locales"


def flatten(data: dict, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": "x"}} -> {"a.b": "x"}: locale files nest, lookups use dotted keys."""
    out: dict[str, str] = {}
    for key, value in (data or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


def read_folder(folder: Path) -> dict[str, str]:
    """Every `<section>.yaml` in a folder, keys prefixed with the section (the file's stem)."""
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        texts.update(flatten(data, f"{path.stem}."))
    return texts


@lru_cache(maxsize=None)
def table(lang: str) -> dict[str, str]:
    return read_folder(LOCALES / lang)


def default_lang() -> str:
    """The CLI's language: STUDIO_LANG, else the locale's (zh_CN.UTF-8 -> zh), else English."""
    for var in ("STUDIO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            code = value.split("_")[0].split(".")[0].lower()
            return code if code in LANGS else "en"
    return "en"


def text(key: str, lang: str = "en", **args) -> str:
    """The text for `key` in `lang` (English if it has none, the key itself if neither has it)."""
    lang = lang if lang in LANGS else "en"
    template = table(lang).get(key) or table("en").get(key)
    if template is None:
        return key
    try:
        return template.format(**args) if args else template
    except (KeyError, IndexError, ValueError):
        return template
