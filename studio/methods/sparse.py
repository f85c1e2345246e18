"""Sparse fine-tuning: update only a chosen fraction of the weights, picked by gradient magnitude.

Before training, the gradients of a few batches (through the stage's own loss) are summed and, in
each targeted weight matrix, the `fraction` of entries with the largest |gradient| are chosen. The
base weights then stay frozen; each chosen matrix gets a trainable vector of values at those
positions (a sparse difference, as in sparse fine-tuning / "diff pruning"), added to the layer's
output through a forward hook. So the optimizer holds state only for the chosen entries, the
trainable count is exact before the run starts (fraction x entries per matrix), and the artifact is
just the positions and their values. `merge` adds the values into the weights.

Memory: the pick needs one gradient per targeted matrix (one full-model backward, no optimizer state);
training then needs a dense copy of one matrix's difference at a time, plus Adam state for the values.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..config import opt
from ..errors import StudioError
from ._tuned import add_output_hook, freeze, linear_modules, load_tuned, remember, remove_side, save_tuned
from .base import Method, MethodConfig

SIDE = "studio_sparse"


class SparseOptions(MethodConfig):
    fraction: float = opt(0.01, "Fraction of the entries of each targeted weight matrix to train",
                          "每个目标权重矩阵中参与训练的元素比例", gt=0, le=0.5)
    target_modules: str = opt("all-linear", "Weight matrices to pick from: all-linear, or names like q_proj,v_proj",
                              "从中挑选的权重矩阵：all-linear 或 q_proj,v_proj 等名称")
    mask_batches: int = opt(8, "Batches whose summed gradients pick the entries",
                            "用于挑选元素的梯度累加批次数", ge=1, le=1000, advanced=True)


def chosen_count(numel: int, fraction: float) -> int:
    return max(1, round(numel * fraction))


@cache
def delta_class():
    """The side module class, built on first use so that importing this file does not import torch."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SparseDelta(nn.Module):
        """Values at `index` (flat positions in the weight) of an otherwise zero weight difference."""

        def __init__(self, out_features: int, in_features: int, count: int):
            super().__init__()
            self.shape = (out_features, in_features)
            self.register_buffer("index", torch.zeros(count, dtype=torch.long))
            self.values = nn.Parameter(torch.zeros(count))

        def dense(self):
            flat = torch.zeros(self.shape[0] * self.shape[1], dtype=self.values.dtype, device=self.values.device)
            return flat.scatter(0, self.index, self.values).view(self.shape)

        def forward(self, x):
            return F.linear(x, self.dense())

    return SparseDelta


def _targets(model):
    return {name: m for name, m in model.named_modules() if hasattr(m, SIDE)}


def wrap(model, cfg: SparseOptions):
    import torch

    freeze(model)
    for lin in linear_modules(model, cfg.target_modules).values():
        side = delta_class()(lin.out_features, lin.in_features, chosen_count(lin.weight.numel(), cfg.fraction))
        add_output_hook(lin, SIDE, side.to(device=lin.weight.device, dtype=torch.float32), use_input=True)
    return remember(model, "sparse", cfg, buffers=(f"{SIDE}.index",))


def pick_entries(trainer, cfg: SparseOptions, _run_dir: Path) -> None:
    """Sum the gradients of `mask_batches` batches and keep the largest |gradient| entries per matrix."""
    import torch

    model = trainer.model
    targets = _targets(model)
    for lin in targets.values():
        lin.weight.requires_grad_(True)
    model.train()
    seen = 0
    try:
        for batch in trainer.get_train_dataloader():
            loss = trainer.compute_loss(model, trainer._prepare_inputs(batch))
            loss.backward()
            seen += 1
            if seen >= cfg.mask_batches:
                break
    except StudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - a stage whose loss cannot be taken batch by batch
        raise StudioError(key="methods.sparse_fine_tuning_could", trainer=trainer.__class__.__name__,
                          error_type=type(exc).__name__, exc=exc) from exc
    with torch.no_grad():
        for name, lin in targets.items():
            side = getattr(lin, SIDE)
            if lin.weight.grad is None:
                raise StudioError(key="methods.got_no_gradient_sparse", name=name)
            top = lin.weight.grad.abs().flatten().topk(side.index.numel()).indices
            side.index.copy_(top.sort().values)
            lin.weight.requires_grad_(False)
            lin.weight.grad = None
    model.zero_grad(set_to_none=True)


def pick_memory(model, _cfg: SparseOptions) -> int:
    """The pick holds a dense gradient for every targeted matrix at once (freed before training starts)."""
    return sum(lin.weight.numel() * lin.weight.element_size() for lin in _targets(model).values())


def merge(model):
    import torch

    with torch.no_grad():
        for lin in _targets(model).values():
            side = remove_side(lin, SIDE)
            lin.weight.add_(side.dense().to(lin.weight.dtype))
    return model


METHOD = Method(
    name="sparse",
    config=SparseOptions,
    title={"en": "Sparse fine-tuning", "zh": "稀疏微调"},
    summary={"en": "Updates only a small fraction of the weights, the ones whose gradients are largest "
                   "on your data; all other weights stay exactly as they were.",
             "zh": "只更新一小部分权重——在你的数据上梯度最大的那些；其余权重完全不变。"},
    when_to_use={"en": "When you want the base model changed as little as possible (less forgetting) with a "
                       "small, exact artifact. Slower per step than LoRA.",
                 "zh": "希望尽量少改动基座模型（减少遗忘）并得到小而精确的产物时使用；每步比 LoRA 慢。"},
    wrap=wrap,
    before_train=pick_entries,
    save=save_tuned,
    load=load_tuned,
    trains_base=True,
    merge=merge,
    extra_memory=pick_memory,
    order=160,
)
