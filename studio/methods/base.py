"""What every method declares: a typed config, plain-language texts and how it wraps a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import Strict


class MethodConfig(Strict):
    """Base class for a method's options (each field carries en/zh help)."""


def _no_check(_spec: Any) -> None:
    return None


def _no_load_kwargs(_cfg: Any, _device: str) -> dict:
    return {}


def _save_pretrained(model: Any, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)


def _load_peft(base_model: Any, folder: Path) -> Any:
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model, folder)


@dataclass(frozen=True)
class Method:
    name: str
    config: type[MethodConfig]
    title: dict[str, str]
    summary: dict[str, str]
    when_to_use: dict[str, str]
    # wrap(model, cfg) -> the model to train (only the intended parameters require grad)
    wrap: Callable[[Any, Any], Any]
    # extra from_pretrained kwargs, e.g. a quantization config: load_kwargs(cfg, device)
    load_kwargs: Callable[[Any, str], dict] = _no_load_kwargs
    # refuse invalid combinations with a StudioError that says what to choose instead
    check: Callable[[Any], None] = _no_check
    # writes the trained artifact; load(base_model, folder) reads it back
    save: Callable[[Any, Path], None] = _save_pretrained
    load: Callable[[Any, Path], Any] = _load_peft
    # "adapter": the artifact sits on top of the base (mergeable); "full": a whole model
    artifact: str = "adapter"
    order: int = 100
    tags: tuple[str, ...] = field(default_factory=tuple)

    def text(self, which: str, lang: str = "en") -> str:
        texts = getattr(self, which)
        return texts.get(lang) or texts["en"]
