"""Typed configuration base classes shared by the run spec, methods and stages.

Every option is a pydantic field with English and Chinese help text. The UI builds its controls,
the YAML loader its validation and the CLI its `--set` keys from these same fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def opt(default: Any, en: str, zh: str, **constraints: Any) -> Any:
    """A field with bilingual help text; `advanced=True` hides it in a collapsed group in the UI."""
    extra = {"zh": zh}
    if constraints.pop("advanced", False):
        extra["advanced"] = True
    choices = constraints.pop("choices", None)
    if choices is not None:
        extra["choices"] = list(choices)
    return Field(default, description=en, json_schema_extra=extra, **constraints)


class Strict(BaseModel):
    """Unknown keys are errors (a typo in YAML must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def help_text(model: type[BaseModel], field: str, lang: str = "en") -> str:
    info = model.model_fields[field]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if lang == "zh" and extra.get("zh"):
        return str(extra["zh"])
    return info.description or field
