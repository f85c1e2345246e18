"""Trainable-parameter counts for a model + method, without loading any weights.

The model is built on PyTorch's meta device from its config and wrapped by the method exactly as a
run wraps it (with the method's `meta_config`, for inits such as PiSSA's SVD that need real numbers
but do not change the count), and counted with the same function the runner writes to
`params.json`. The UI and the memory estimate show this number before a run starts.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=16)
def config_json(model_name: str) -> str:
    from transformers import AutoConfig

    from ..models import EMBEDDED, resolve
    from ..models.cache import cache_dir, is_built

    if model_name == EMBEDDED and not is_built(EMBEDDED):
        from ..models.embedded import gguf_path

        gguf = gguf_path()
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        return config.to_json_string()
    path = cache_dir(model_name) if is_built(model_name) else resolve(model_name).path
    return (Path(path) / "config.json").read_text()


def local_config(model_name: str) -> dict | None:
    """The model's config.json if it can be read without building or downloading anything, else None."""
    from ..models import EMBEDDED, TINY
    from ..models.cache import cache_dir, is_built

    name = (model_name or "").strip()
    if name in (EMBEDDED, TINY):
        path = cache_dir(name) / "config.json" if is_built(name) else None
    else:
        path = Path(name).expanduser() / "config.json"
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def meta_model(model_name: str, kind: str = "causal_lm"):
    """The model's architecture on the meta device (no memory, no weights), with the head a stage asks for."""
    import torch
    import transformers
    from transformers import AutoConfig

    from ..models.loading import MODEL_KINDS

    data = json.loads(config_json(model_name))
    data.pop("quantization_config", None)
    model_type = data.pop("model_type")
    config = AutoConfig.for_model(model_type, **data)
    if kind == "sequence_classification":
        config.num_labels = 1  # one reward score, as `load_model` builds it
    auto_class = getattr(transformers, MODEL_KINDS[kind][0])
    with torch.device("meta"):
        return auto_class.from_config(config)


def count_trainable(model_name: str, method_name: str, method_args: dict,
                    kind: str = "causal_lm") -> tuple[int, int]:
    """(trainable, total) parameters of `model_name` wrapped by `method_name` with `method_args`.

    `kind` is the stage's `model_kind` (a reward model has a score head that trains too).
    """
    import torch

    from ..models.loading import ensure_head_trainable
    from . import REGISTRY
    from .base import count_parameters

    method = REGISTRY.get(method_name)
    cfg = method.meta_config(method.config.model_validate(method_args))
    model = meta_model(model_name, kind)
    with torch.device("meta"):
        model = ensure_head_trainable(method.wrap(model, cfg), method.name)  # as the runner does
    counts = count_parameters(model)
    return counts["trainable"], counts["total"]
