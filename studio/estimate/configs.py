"""A model's architecture (config.json) without downloading it, or a reference shape by size."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

from ..errors import StudioError

# Shapes of common open models, used only when a model's own config.json cannot be read (a hub id that
# is not downloaded yet): the one closest to the size in the model's name (e.g. "...-7B-...").
REFERENCE_SHAPES = {
    "Qwen2.5-0.5B": dict(hidden_size=896, num_hidden_layers=24, intermediate_size=4864, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "Qwen2.5-1.5B": dict(hidden_size=1536, num_hidden_layers=28, intermediate_size=8960, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "Qwen2.5-3B": dict(hidden_size=2048, num_hidden_layers=36, intermediate_size=11008, num_attention_heads=16,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "Qwen2.5-7B": dict(hidden_size=3584, num_hidden_layers=28, intermediate_size=18944, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "Llama-3.1-8B": dict(hidden_size=4096, num_hidden_layers=32, intermediate_size=14336, num_attention_heads=32,
                         num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False),
    "Llama-2-13B": dict(hidden_size=5120, num_hidden_layers=40, intermediate_size=13824, num_attention_heads=40,
                        num_key_value_heads=40, vocab_size=32000, tie_word_embeddings=False),
    "Qwen2.5-32B": dict(hidden_size=5120, num_hidden_layers=64, intermediate_size=27648, num_attention_heads=40,
                        num_key_value_heads=8, vocab_size=152064, tie_word_embeddings=False),
    "Llama-3.1-70B": dict(hidden_size=8192, num_hidden_layers=80, intermediate_size=28672, num_attention_heads=64,
                          num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False),
}


@lru_cache(maxsize=32)
def _cached_hub_config(name: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(name, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        return None
    return Path(path).read_text(encoding="utf-8") if isinstance(path, str) else None


def model_config(name: str, revision: str | None = None) -> tuple[dict, str]:
    """(config.json as a dict, where it came from) without downloading anything."""
    import json

    from ..methods.params import config_json, local_config
    from ..models import EMBEDDED, TINY

    found = local_config(name)
    if found is not None:
        return found, "config.json"
    if name in (EMBEDDED, TINY) or Path(name).expanduser().is_dir():
        return json.loads(config_json(name)), "config.json"
    cached = _cached_hub_config(name, revision)
    if cached:
        return json.loads(cached), "config.json (Hugging Face cache)"
    return reference_for(name)


def reference_for(name: str) -> tuple[dict, str]:
    match = re.search(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", name.split("/")[-1])
    if not match:
        raise StudioError(key="spec.estimate_no_config", name=name)
    want = float(match.group(1)) * 1e9
    best = min(REFERENCE_SHAPES, key=lambda k: abs(math.log(shape_params(REFERENCE_SHAPES[k]) / want)))
    shape = dict(REFERENCE_SHAPES[best], model_type="llama", hidden_act="silu")
    return shape, f"not downloaded: shape of {best} (closest to {match.group(0)} in the name)"


def shape_params(s: dict) -> float:
    h, layers, inter, v = s["hidden_size"], s["num_hidden_layers"], s["intermediate_size"], s["vocab_size"]
    kv = h * s["num_key_value_heads"] / s["num_attention_heads"]
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * inter
    return layers * per_layer + v * h * (1 if s["tie_word_embeddings"] else 2)

