"""Which dtype the weights load in and which the step computes in: one decision for the run and the estimate.

`model.dtype: auto` means:
- on a GPU, a method that updates the base model's own tensors (full fine-tuning, selective, sparse,
  BitFit) keeps fp32 *master weights* and computes in bf16 under autocast (mixed precision): pure bf16
  weights lose small updates (a bf16 weight has 8 bits of mantissa, so an update below 1/256 of it
  rounds away). Asking for `model.dtype: bfloat16` gives pure bf16 (half the weight memory).
- on a GPU, a frozen base under an adapter loads in bf16 (it is never updated; the adapter is fp32).
- on a CPU that computes bf16 natively (AVX512-BF16 / AMX), `training.precision: bf16` loads a frozen
  base under an adapter in bf16, the adapter in fp32 (what LLaMA-Factory's fastest CPU flags do): no
  fp32 -> bf16 copy of every weight on every step and half the weight memory; measured 10% faster per
  step on the reference work once the loss and attention no longer dominated (bench/train_speed.py).
  The `cpu-lora-sft` preset (the studio's CPU default) asks for it; `auto` keeps fp32 weights on a CPU,
  because an adapter trained on a bf16 base and reloaded on the fp32 base gives logits that differ by
  bf16 rounding (tests/test_methods.py checks exact reloads under `auto`).
  Otherwise on a CPU, fp32 weights (`training.precision: auto` adds bf16 autocast where the CPU
  computes bf16).
"""

from __future__ import annotations


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 / AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cuda_has_bf16() -> bool:
    """The visible GPU computes bf16; a GPU that is not here (an estimate for a named GPU) is assumed to."""
    import torch

    return bool(torch.cuda.is_bf16_supported()) if torch.cuda.is_available() else True


def weights_dtype(model_dtype: str, device: str, trains_base: bool, bf16_ok: bool) -> str:
    """The dtype the base weights load in (see the module docstring)."""
    if model_dtype != "auto":
        return model_dtype
    if bf16_ok and not trains_base:  # a frozen base under an adapter
        return "bfloat16"
    return "float32"


def compute_dtype(precision: str, device: str, load: str, bf16_ok: bool) -> str:
    """The dtype a training step computes in: bf16/fp16 under autocast, else the weights' own."""
    if precision == "bf16" or (precision == "auto" and bf16_ok):
        return "bfloat16"
    if precision == "fp16":
        return "float16"
    return load


def plan(spec, device: str) -> tuple[str, str]:
    """(weights dtype, compute dtype) for `spec` on `device`; a fp32 / bf16 pair is mixed precision."""
    from .. import methods

    bf16_ok = cuda_has_bf16() if device == "cuda" else cpu_has_bf16()
    frozen_bf16 = bf16_ok and (device == "cuda" or spec.training.precision == "bf16")
    load = weights_dtype(spec.model.dtype, device, methods.REGISTRY.get(spec.method).trains_base, frozen_bf16)
    return load, compute_dtype(spec.training.precision, device, load, bf16_ok)
