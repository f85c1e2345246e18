"""One autograd step for a LoRA linear layer on a bf16 base: y = x W^T + s (x A^T) B^T, by hand.

Why, twice (both profiled and measured on the reference work, bench/train_speed.py):
- Learning. On a CPU the studio trains a frozen bf16 base with fp32 adapters (train.precision). Under
  autocast peft adds the adapter's output to the base's in bf16, which has 8 bits of mantissa: while
  the adapter is young (B starts at zero and moves by about the learning rate per step) its
  contribution is below 1/256 of the layer's output and rounds away, so the first steps barely change
  what the model computes. Every bf16 tool learns slower per step than fp32 for that reason
  (LLaMA-Factory's bf16 flags: mean loss 1.061 over 20 steps, its fp32 defaults 0.980). Here the
  base's product stays in bf16 but the adapter's part is added in fp32 and, under autocast (the
  training step), the layer's output is fp32, so nothing is lost (the studio: 1.067 -> 0.990, the fp32
  curve). Outside autocast (generation inside RL stages, reference passes) the output is the weights'
  bf16, as peft's, because the ops downstream expect the weights' dtype there.
- Speed. peft's forward casts the bf16 input UP to the adapter's fp32, autocast casts it back DOWN and
  casts A and B, then multiplies by the scale and adds; autograd records each op and runs a cast and a
  multiply for each in the backward: about 9,000 small copies a step, as much time as the adapter's
  products. Here the forward is three products and one fp32 accumulate, the backward four products on
  bf16 operands with the gradients of A and B handed back in fp32, and the input's gradient is skipped
  where nothing needs it (the first layer's projections).
tests/test_speed.py checks outputs and gradients against the same step on a fp32 base.

Installed only where it is exact: a plain peft `lora.Linear` over an `nn.Linear` with a bf16 weight,
one active adapter, no LoRA variant (DoRA, ...), no dropout, no LoRA bias. Every call re-checks what
can change while training (merged weights, per-row adapter names: peft's own forward then) and with
adapters disabled (the reference model of DPO/KTO) gives the base's output in the same fp32 form, so
policy and reference agree exactly at the start. `restore` puts peft's forward back before saving.
"""

from __future__ import annotations

_ATTR = "_studio_fused_forward"


def _function():
    import torch

    class LoraLinear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias, lora_a, lora_b, scale: float):
            dtype = weight.dtype
            shape = x.shape
            x2 = x.reshape(-1, shape[-1]).to(dtype)
            a, b = lora_a.to(dtype), lora_b.to(dtype)
            xa = (x2 @ a.t()).mul_(scale)  # scaled on the thin (tokens, r) side: addmm's alpha is slower
            base = x2 @ weight.t() if bias is None else torch.addmm(bias.to(dtype), x2, weight.t())
            mixed = torch.is_autocast_enabled(x.device.type)  # a training step (outside it: generation, ...)
            with torch.autocast(x.device.type, enabled=False):  # the adapter's part not rounded away: see above
                y = base.float().addmm_(xa.float(), lora_b.t())
            if not mixed:  # without autocast every op downstream expects the weights' own dtype
                y = y.to(dtype)
            ctx.save_for_backward(x2, weight, a, b, xa)
            ctx.scale, ctx.shape, ctx.x_dtype = scale, shape, x.dtype
            return y.view(*shape[:-1], weight.shape[0])

        @staticmethod
        def backward(ctx, grad):
            x2, weight, a, b, xa = ctx.saved_tensors
            g = grad.reshape(-1, grad.shape[-1]).to(weight.dtype)
            gb = (g @ b).mul_(ctx.scale)  # (tokens, r), scaled like xa
            grad_x = None
            if ctx.needs_input_grad[0]:
                grad_x = torch.addmm(g @ weight, gb, a).view(ctx.shape).to(ctx.x_dtype)
            grad_a = (gb.t() @ x2).float() if ctx.needs_input_grad[3] else None
            grad_b = (g.t() @ xa).float() if ctx.needs_input_grad[4] else None
            return grad_x, None, None, grad_a, grad_b, None

    return LoraLinear


_FN: list = []


def _fused_forward(self, x, *args, **kwargs):
    """peft's forward unless the call is the plain single-adapter case this layer was checked for."""
    import torch

    adapter = self.active_adapters[0] if len(self.active_adapters) == 1 else None
    if args or kwargs or self.merged:
        return type(self).forward(self, x, *args, **kwargs)
    if self.disable_adapters:  # a reference model (DPO, KTO): the base, in the same fp32 output as below,
        weight, bias = self.base_layer.weight, self.base_layer.bias  # so that policy and reference agree at B = 0
        out = torch.nn.functional.linear(x.to(weight.dtype), weight, bias)
        return out.float() if torch.is_autocast_enabled(x.device.type) else out
    if adapter not in self.lora_A or adapter in self.lora_variant:
        return type(self).forward(self, x, *args, **kwargs)
    base = self.base_layer
    return _FN[0].apply(x, base.weight, base.bias, self.lora_A[adapter].weight, self.lora_B[adapter].weight,
                        self.scaling[adapter])


def eligible(module) -> bool:
    """A peft LoRA Linear this kernel computes exactly (see the module docstring)."""
    import torch
    from peft.tuners.lora import Linear

    if type(module) is not Linear or len(module.active_adapters) != 1:
        return False
    name = module.active_adapters[0]
    base = module.base_layer
    return (type(base) is torch.nn.Linear and base.weight.dtype == torch.bfloat16
            and name in module.lora_A and name not in module.lora_variant
            and isinstance(module.lora_dropout[name], torch.nn.Identity)
            and module.lora_A[name].bias is None and module.lora_B[name].bias is None
            and not getattr(module, "fan_in_fan_out", False))


def install(model) -> int:
    """Route every eligible LoRA layer through the fused step; returns how many."""
    if not _FN:
        _FN.append(_function())
    count = 0
    for module in model.modules():
        if eligible(module):
            module.forward = _fused_forward.__get__(module)
            setattr(module, _ATTR, True)
            count += 1
    return count


def restore(model) -> None:
    """peft's own forward again (the saved model, generation and the probe use it)."""
    for module in model.modules():
        if getattr(module, _ATTR, False):
            del module.forward
            delattr(module, _ATTR)
