"""Shared pieces of the hand-written methods (adapter, bitfit, selective, sparse, full, moe_lora).

Their artifact is `tuned.safetensors` (only the tensors the method trained, plus the buffers it needs,
such as a sparse index) and `tuned.json` (method name + options). `load_tuned(base, folder)` re-applies
the method's `wrap` to a fresh base, so the structure is rebuilt by the same code that trained it,
then copies the saved tensors in. Side modules hang off the base modules as children and act through
forward hooks, so the base parameter names never change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ..errors import StudioError

WEIGHTS = "tuned.safetensors"
INFO = "tuned.json"
_STASH = "studio_tuned"


def remember(model: Any, method: str, cfg: Any, buffers: tuple[str, ...] = ()) -> Any:
    """Record on the model what `save` needs later (the method, its options, extra buffer names)."""
    model.__dict__[_STASH] = {"method": method, "config": cfg.model_dump(), "buffers": list(buffers)}
    return model


def freeze(model: Any) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def decoder_layers(model: Any):
    """The transformer blocks: the ModuleList holding the most parameters (model.layers in Llama)."""
    import torch.nn as nn

    best, best_name, best_size = None, "", -1
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            size = sum(p.numel() for p in module.parameters())
            if size > best_size:
                best, best_name, best_size = module, name, size
    if best is None:
        raise StudioError(key="methods.no_list_transformer_layers", model_class=type(model).__name__)
    return best_name, best


def names_list(text: str) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def linear_modules(model: Any, targets: str) -> dict[str, Any]:
    """Linear layers inside the transformer blocks: all of them, or those whose last name is listed."""
    import torch.nn as nn

    prefix, _layers = decoder_layers(model)
    wanted = None if (targets or "all-linear").strip() == "all-linear" else set(names_list(targets))
    found = {name: m for name, m in model.named_modules()
             if name.startswith(prefix + ".") and isinstance(m, nn.Linear)
             and (wanted is None or name.rsplit(".", 1)[-1] in wanted)}
    if not found:
        raise StudioError(key="methods.target_modules_matches_no", targets=targets, model_class=type(model).__name__)
    return found


def add_output_hook(module: Any, side_name: str, side: Any, use_input: bool) -> None:
    """Attach `side` as a child of `module`; its result is added to the module's output.

    use_input: side(input) (a parallel branch, like LoRA); otherwise side(output) (a serial adapter).
    Tuple outputs (attention returns (hidden, weights)) get the change on their first element.
    """
    module.add_module(side_name, side)
    dtype = next(side.parameters()).dtype

    def hook(mod, args, output):
        first = output[0] if isinstance(output, tuple) else output
        delta = getattr(mod, side_name)((args[0] if use_input else first).to(dtype))
        changed = first + delta.to(first.dtype)
        return (changed, *output[1:]) if isinstance(output, tuple) else changed

    module.__dict__[side_name + "_hook"] = module.register_forward_hook(hook)


def remove_side(module: Any, side_name: str) -> Any:
    """Undo `add_output_hook` (after the side's effect was folded into the module's own weights)."""
    module.__dict__.pop(side_name + "_hook").remove()
    side = getattr(module, side_name)
    delattr(module, side_name)
    return side


def trained_state(model: Any) -> dict:
    """What changed in training: trainable parameters and the buffers the method named."""
    info = model.__dict__.get(_STASH)
    if info is None:
        raise StudioError(key="methods.model_was_not_wrapped")
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    state = model.state_dict()
    keep = {n: t for n, t in state.items()
            if n in names or any(n.endswith(b) for b in info["buffers"])}
    return {n: t.detach().contiguous().cpu() for n, t in keep.items()}


def save_tuned(model: Any, folder: Path) -> None:
    from safetensors.torch import save_file

    from ..atomic import write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = trained_state(model)
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": "pt"})
    info = dict(model.__dict__[_STASH])
    info["tensors"] = len(tensors)
    info["values"] = sum(t.numel() for t in tensors.values())
    write_json(folder / INFO, info)


def read_info(folder: Path) -> dict:
    path = Path(folder) / INFO
    if not path.is_file():
        raise StudioError(key="methods.no_run_info", folder=folder, info=INFO)
    return json.loads(path.read_text(encoding="utf-8"))


def copy_in(model: Any, tensors: dict, folder: Path) -> None:
    """Copy saved tensors into the model; every saved name must exist with the same shape."""
    import torch

    state = model.state_dict()
    for name, value in tensors.items():
        if name not in state:
            raise StudioError(key="methods.tensor_does_not_exist", folder=folder, name=name)
        if state[name].shape != value.shape:
            raise StudioError(key="methods.tensor_shape_base", folder=folder, name=name, shape=tuple(value.shape),
                              shape2=tuple(state[name].shape))
        with torch.no_grad():
            state[name].copy_(value.to(state[name].dtype))


def load_tuned(base_model: Any, folder: Path) -> Any:
    """The base with a hand-written method's artifact applied, ready for inference."""
    from safetensors.torch import load_file

    from . import REGISTRY

    folder = Path(folder)
    info = read_info(folder)
    method = REGISTRY.get(info["method"])
    model = method.wrap(base_model, method.config.model_validate(info["config"]))
    copy_in(model, load_file(str(folder / WEIGHTS)), folder)
    freeze(model)
    return model.eval()


def cannot_merge(why: str) -> Callable[[Any], Any]:
    """A `merge` hook that refuses; `merge.refusal` holds the reason so callers can refuse up front."""
    def merge(_model: Any) -> Any:
        raise StudioError(key="methods.artifact_cannot_be_folded", why=why)
    merge.refusal = why  # type: ignore[attr-defined]
    return merge


def no_merge_needed(model: Any) -> Any:
    """Methods that change base tensors in place leave a plain model behind."""
    return model
