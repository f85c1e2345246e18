"""Loading a resolved model and its tokenizer with the user's safety settings applied.

Safetensors only unless the user opted into pickle weights; `trust_remote_code` only when the user
turned it on. Heavy imports stay inside the functions (they run in workers).
"""

from __future__ import annotations

from typing import Any

from ..errors import StudioError
from .registry import ModelRef


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise StudioError("resources.device is 'cuda' but no CUDA GPU is visible",
                          "set resources.device to 'auto' or 'cpu'")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(ref: ModelRef, trust_remote_code: bool = False, chat_template: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ref.path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.unk_token or tok.eos_token
    if chat_template:
        from ..data.templates import named_template

        tok.chat_template = named_template(chat_template)
    return tok


def load_model(ref: ModelRef, dtype: str = "auto", device: str = "cpu", trust_remote_code: bool = False,
               allow_pickle: bool = False, **extra: Any):
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "dtype": torch_dtype(dtype, device),
        "trust_remote_code": trust_remote_code,
        "use_safetensors": None if allow_pickle else True,
    }
    kwargs.update(extra)
    if device == "cuda" and "device_map" not in kwargs:
        kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.path, **kwargs)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise StudioError(f"Model {ref.label} needs code from its repository to load",
                              "turn on model.trust_remote_code only if you trust and pinned it") from None
        raise
    return model
