"""Controls generated from a pydantic config class (method, stage, training and sampling options).

One component per field, labelled and explained in the UI language; advanced fields go in a
collapsed accordion. `values()` turns the components' values back into a validated dict.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

import gradio as gr
from pydantic import BaseModel

from ..config import help_text


def _choices(info) -> list | None:
    ann = info.annotation
    args = typing.get_args(ann)
    if typing.get_origin(ann) is Literal:
        return list(args)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return extra.get("choices")


def _is_advanced(info) -> bool:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return bool(extra.get("advanced"))


def _base_type(ann) -> Any:
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return args[0]
    return ann


def field_label(config: type[BaseModel] | None, name: str, lang: str) -> str:
    """The option's label in `lang` (studio/ui/locales/<lang>/fields.yaml: `<Class>.<field>`, else `<field>`)."""
    from .i18n import table

    keys = ([f"fields.{config.__name__}.{name}"] if config is not None else []) + [f"fields.{name}"]
    for texts in (table(lang), table("en")):
        for key in keys:
            if key in texts:
                return texts[key]
    return name


def _component(name: str, info, value: Any, lang: str, elem_id: str | None = None,
               config: type[BaseModel] | None = None):
    """One control; its info text ends with the raw key ("(max_steps)") that YAML and --set use."""
    label = field_label(config, name, lang)
    help_text = help_text_from(info, lang)
    key = f"({name})"
    info_text = f"{help_text} {key}" if help_text else key
    choices = _choices(info)
    kind = _base_type(info.annotation)
    if choices is not None:
        return gr.Dropdown(choices=choices, value=value, label=label, info=info_text, elem_id=elem_id)
    if kind is bool:
        return gr.Checkbox(value=bool(value), label=label, info=info_text, elem_id=elem_id)
    if kind is int:
        return gr.Number(value=value, label=label, info=info_text, precision=0, elem_id=elem_id)
    if kind is float:
        return gr.Number(value=value, label=label, info=info_text, elem_id=elem_id)
    if typing.get_origin(kind) in (list, tuple):
        text = ", ".join(map(str, value or []))
        from .i18n import Translator

        return gr.Textbox(value=text, label=label, elem_id=elem_id,
                          info=f"{help_text}{Translator(lang)('common.comma_separated')} {key}".strip())
    if typing.get_origin(kind) is dict or kind is dict:
        import json

        return gr.Code(value=json.dumps(value or {}, ensure_ascii=False), language="json", label=f"{label} ({name})",
                       elem_id=elem_id)
    return gr.Textbox(value="" if value is None else str(value), label=label, info=info_text, elem_id=elem_id)


def help_text_from(info, lang: str) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("zh")) if lang == "zh" and extra.get("zh") else (info.description or "")


class ConfigForm:
    """Components for every field of `config`, in declaration order (basic, then advanced)."""

    def __init__(self, config: type[BaseModel], lang: str = "en", values: dict | None = None,
                 advanced_label: str = "Advanced", skip: tuple[str, ...] = (), elem_prefix: str | None = None):
        self.config = config
        self.elem_prefix = elem_prefix
        self.names: list[str] = []
        self.components: list[gr.components.Component] = []
        values = values or {}
        fields = [(n, i) for n, i in config.model_fields.items() if n not in skip]
        basic = [(n, i) for n, i in fields if not _is_advanced(i)]
        advanced = [(n, i) for n, i in fields if _is_advanced(i)]
        for name, info in basic:
            self._add(name, info, values.get(name, info.default), lang)
        if advanced:
            with gr.Accordion(advanced_label, open=False):
                for name, info in advanced:
                    self._add(name, info, values.get(name, info.default), lang)

    def _add(self, name, info, value, lang) -> None:
        self.names.append(name)
        elem_id = f"{self.elem_prefix}-{name}" if self.elem_prefix else None
        self.components.append(_component(name, info, value, lang, elem_id, self.config))

    def values(self, raw: list | tuple) -> dict:
        """Component values -> dict for `config` (blank optional fields become None)."""
        out: dict[str, Any] = {}
        for name, value in zip(self.names, raw):
            info = self.config.model_fields[name]
            kind = _base_type(info.annotation)
            if isinstance(value, str) and value.strip() == "" and type(None) in typing.get_args(info.annotation):
                value = None
            elif typing.get_origin(kind) in (list, tuple) and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif (typing.get_origin(kind) is dict or kind is dict) and isinstance(value, str):
                import json

                value = json.loads(value or "{}")
            elif kind is int and isinstance(value, float) and value.is_integer():
                value = int(value)
            out[name] = value
        return out

    def updates(self, values: dict) -> list:
        """gr.update for each component from a dict (e.g. a loaded preset)."""
        ups = []
        for name in self.names:
            if name in values:
                value = values[name]
                if isinstance(value, (list, tuple)):
                    value = ", ".join(map(str, value))
                ups.append(gr.update(value=value))
            else:
                ups.append(gr.update())
        return ups


__all__ = ["ConfigForm", "help_text"]
