"""What every method declares: a typed config, plain-language texts and how it wraps a model.

The runner and the other jobs only talk to a method through the hooks below, so adding a method never
needs an `if name == ...` anywhere else:

- `wrap(model, cfg)` -> the model to train (only the intended parameters require grad)
- `load_kwargs(cfg, device)` -> extra `from_pretrained` kwargs (a quantisation config)
- `check(spec)` -> refuses invalid combinations (common optimizer rules + the method's `validate`)
- `before_train(trainer, cfg, run_dir)` -> last step with the built trainer (a custom optimizer,
  gradient masks computed from data, a per-step callback)
- `save(model, folder)` / `load(base, folder)` -> the artifact, and the base with it applied
- `merge(model)` -> a plain transformers model with the tuned weights folded in (for export)
- `meta_config(cfg)` -> a config with the same parameter count that can be built on the meta device
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable

from ..config import Strict
from ..errors import StudioError


class MethodConfig(Strict):
    """Base class for a method's options (each field carries en/zh help)."""


def _no_check(_spec: Any) -> None:
    return None


def _no_load_kwargs(_cfg: Any, _device: str) -> dict:
    return {}


def _nothing_before_train(_trainer: Any, _cfg: Any, _run_dir: Path) -> None:
    return None


def _no_extra_memory(_model: Any, _cfg: Any) -> int:
    return 0


def _same_config(cfg: Any) -> Any:
    return cfg


def _save_pretrained(model: Any, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)


def _load_peft(base_model: Any, folder: Path) -> Any:
    from peft import PeftModel

    from ..models.safety import check_adapter

    return PeftModel.from_pretrained(base_model, check_adapter(folder))


def _merge_peft(model: Any) -> Any:
    return model.merge_and_unload()


def count_parameters(model: Any) -> dict:
    """Trainable and total parameters as the optimizer sees them (tied weights counted once)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total}


# optimizers that need a package or a kind of method (transformers names)
BNB_OPTIMIZERS = ("8bit", "paged_", "lion_32bit", "rmsprop_bnb")
PROJECTED_OPTIMIZERS = ("galore_", "apollo_")


def check_optimizer(optimizer: str, device: str) -> None:
    """Paged optimizers move their state between GPU and CPU memory; on a CPU there is nothing to page
    (bitsandbytes silently falls back to the unpaged one), so say so instead of pretending."""
    if optimizer.startswith("paged_") and device != "cuda":
        plain = optimizer.replace("paged_", "", 1)
        raise StudioError(key="methods.training_optimizer_pages_optimizer", optimizer=optimizer, device=device,
                          instead=plain if plain != 'adamw_32bit' else 'adamw_torch')


def optimizer_rules(method: "Method", spec: Any) -> None:
    """Optimizer x method combinations that cannot work, refused before a run starts."""
    optim = spec.training.optimizer
    if spec.resources.device == "cpu":
        check_optimizer(optim, "cpu")
    if any(tag in optim for tag in BNB_OPTIMIZERS) and find_spec("bitsandbytes") is None:
        raise StudioError(key="methods.training_optimizer_needs_bitsandbytes", optim=optim)
    if optim.startswith(PROJECTED_OPTIMIZERS):
        if not method.dense_weights:
            raise StudioError(key="methods.training_optimizer_projects_gradients", optim=optim, name=method.name)
        package = "galore_torch" if optim.startswith("galore_") else "apollo_torch"
        if find_spec(package) is None:
            raise StudioError(key="methods.training_optimizer_needs_package", optim=optim, package=package,
                              pip_name=package.replace('_', '-'))


@dataclass(frozen=True)
class Method:
    name: str
    config: type[MethodConfig]
    title: dict[str, str]
    summary: dict[str, str]
    when_to_use: dict[str, str]
    wrap: Callable[[Any, Any], Any]
    load_kwargs: Callable[[Any, str], dict] = _no_load_kwargs
    # method-specific refusals: raise StudioError saying why and what to choose instead
    validate: Callable[[Any], None] = _no_check
    before_train: Callable[[Any, Any, Path], None] = _nothing_before_train
    save: Callable[[Any, Path], None] = _save_pretrained
    load: Callable[[Any, Path], Any] = _load_peft
    merge: Callable[[Any], Any] = _merge_peft
    meta_config: Callable[[Any], Any] = _same_config
    # "adapter": the artifact sits on top of the base; "full": a whole model
    artifact: str = "adapter"
    # trains whole base weight matrices (what GaLore-style projected optimizers need)
    dense_weights: bool = False
    # updates the base model's own tensors (not a side module): with `dtype: auto` on a GPU they are kept
    # in fp32 master weights under bf16 mixed precision (studio.train.precision)
    trains_base: bool = False
    # bytes the method holds beyond weights, gradients, optimizer states and activations, for the memory
    # estimate: extra_memory(wrapped meta model, cfg) (e.g. dense gradients while sparse tuning picks entries)
    extra_memory: Callable[[Any, Any], int] = _no_extra_memory
    order: int = 100
    tags: tuple[str, ...] = field(default_factory=tuple)

    def text(self, which: str, lang: str = "en") -> str:
        texts = getattr(self, which)
        return texts.get(lang) or texts["en"]

    def check(self, spec: Any) -> None:
        optimizer_rules(self, spec)
        self.validate(spec)

    def parameters(self, model: Any) -> dict:
        return count_parameters(model)
