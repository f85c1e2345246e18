"""Trainable-parameter counts for a model + method, without loading any weights.

The model is built on PyTorch's meta device from its config, wrapped by the method exactly as a
run would wrap it, and counted. The UI shows this number before a run starts.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=16)
def _config_json(model_name: str) -> str:
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


def meta_model(model_name: str):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    data = json.loads(_config_json(model_name))
    data.pop("quantization_config", None)
    model_type = data.pop("model_type")
    config = AutoConfig.for_model(model_type, **data)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def count_trainable(model_name: str, method_name: str, method_args: dict) -> tuple[int, int]:
    """(trainable, total) parameters of `model_name` wrapped by `method_name` with `method_args`."""
    from . import REGISTRY

    method = REGISTRY.get(method_name)
    cfg = method.config.model_validate(method_args)
    if "init" in type(cfg).model_fields:
        cfg = cfg.model_copy(update={"init": "default"})  # SVD-based inits cannot run on meta tensors
    model = method.wrap(meta_model(model_name), cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
