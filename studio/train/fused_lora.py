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
- Siblings. The projections that read the same input (q/k/v of attention, gate/up of the MLP) run as
  ONE product each way: their frozen weights are laid side by side in one tensor at install (each
  layer's weight a view of it: no extra memory), the input is cast once, the first sibling called
  computes all of them and hands the others their output when they are called with the same input
  tensor, and the backward sums their input gradients inside one product instead of three products
  and two fp32 additions (profiled: q/k/v as one product 35% faster than three, gate/up 15%).
tests/test_speed.py checks outputs and gradients against the same step on a fp32 base.

Installed only where it is exact: a plain peft `lora.Linear` over an `nn.Linear` with a bf16 weight,
one active adapter, no LoRA variant (DoRA, ...), no dropout, no LoRA bias. Every call re-checks what
can change while training (merged weights, per-row adapter names: peft's own forward then) and with
adapters disabled (the reference model of DPO/KTO) gives the base's output in the same fp32 form, so
policy and reference agree exactly at the start. `restore` puts peft's forward back, and each weight in
its own tensor, before saving.
"""

from __future__ import annotations

_ATTR = "_studio_fused_forward"
SIBLINGS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))  # read one input; in call order


def _function():
    import torch

    class LoraLinears(torch.autograd.Function):
        """y_i = x W_i^T + s_i (x A_i^T) B_i^T for the LoRA layers of one input, one product each way."""

        @staticmethod
        def forward(ctx, x, weight, bias, splits, scales, *lora):
            ctx.set_materialize_grads(False)  # a sibling output nothing used: no zero-filled gradient
            n, dtype, shape = len(splits), weight.dtype, x.shape
            x2 = x.reshape(-1, shape[-1]).to(dtype)
            a = torch.cat([t.to(dtype) for t in lora[:n]]) if n > 1 else lora[0].to(dtype)
            b = torch.block_diag(*lora[n:]) if n > 1 else lora[n]  # (outputs, ranks) in fp32
            ranks = [t.shape[0] for t in lora[:n]]
            scale = scales[0] if len(set(scales)) == 1 else x2.new_tensor(
                [s for s, r in zip(scales, ranks) for _ in range(r)])
            xa = (x2 @ a.t()).mul_(scale)  # scaled on the thin (tokens, ranks) side: addmm's alpha is slower
            base = x2 @ weight.t() if bias is None else torch.addmm(bias.to(dtype), x2, weight.t())
            mixed = torch.is_autocast_enabled(x.device.type)  # a training step (outside it: generation, ...)
            with torch.autocast(x.device.type, enabled=False):  # the adapter's part not rounded away: see above
                y = base.float().addmm_(xa.float(), b.t())
            if not mixed:  # without autocast every op downstream expects the weights' own dtype
                y = y.to(dtype)
            ctx.save_for_backward(x2, weight, a, b.to(dtype), xa)
            ctx.shape, ctx.x_dtype, ctx.splits, ctx.ranks, ctx.scale = shape, x.dtype, splits, ranks, scale
            return tuple(part.view(*shape[:-1], part.shape[-1]) for part in y.split(splits, dim=1))

        @staticmethod
        def backward(ctx, *grads):
            x2, weight, a, b, xa = ctx.saved_tensors
            splits, n, needs = ctx.splits, len(ctx.splits), ctx.needs_input_grad
            if n == 1:
                g = grads[0].reshape(-1, splits[0]).to(weight.dtype)
            else:  # the siblings' gradients side by side in bf16, one pass each
                g = (torch.zeros if None in grads else torch.empty)(x2.shape[0], sum(splits), dtype=weight.dtype)
                for grad, part in zip(grads, g.split(splits, dim=1)):
                    if grad is not None:
                        part.copy_(grad.reshape(part.shape))
            gb = (g @ b).mul_(ctx.scale)  # (tokens, ranks), scaled like xa
            grad_x = None
            if needs[0]:  # the input's gradient of all siblings in one product
                grad_x = torch.addmm(g @ weight, gb, a).view(ctx.shape).to(ctx.x_dtype)
            grad_a = (gb.t() @ x2).float().split(ctx.ranks) if any(needs[5:5 + n]) else (None,) * n
            grad_b = (None,) * n
            if any(needs[5 + n:]):  # (outputs, ranks): each layer's B gradient is its diagonal block
                full = (g.t() @ xa).float()
                grad_b = _diagonal_blocks(full, splits, ctx.ranks)
            return (grad_x, None, None, None, None, *grad_a, *grad_b)

    return LoraLinears


def _diagonal_blocks(full, rows: tuple, cols: list) -> tuple:
    """The blocks on the diagonal of `full`: row heights `rows`, column widths `cols`."""
    out, r0, c0 = [], 0, 0
    for r, c in zip(rows, cols):
        out.append(full[r0:r0 + r, c0:c0 + c])
        r0, c0 = r0 + r, c0 + c
    return tuple(out)


_FN: list = []


class _Group:
    """LoRA layers fed the same input, fused as one (a layer alone is a group of one).

    `weight` (and `bias`) lay the members' frozen base weights side by side; each member's own weight is
    a view of it (`_pointers` remembers where: a weight replaced since then makes each layer run alone),
    so the fused product reads exactly what the layers hold.
    `pending` keeps the outputs computed for siblings not yet called, with the input they were computed
    from: a sibling called with another input computes again (correct, only slower)."""

    def __init__(self, members: list):
        import torch

        self.members = members
        bases = [m.base_layer for m in members]
        self.splits = tuple(b.weight.shape[0] for b in bases)
        self.weight = self.bias = None  # a group of one reads its layer's own weight at every call
        if len(members) > 1:
            self.weight = _share(torch.cat([b.weight.detach() for b in bases]), [b.weight for b in bases])
            self.bias = None if bases[0].bias is None else _share(
                torch.cat([b.bias.detach() for b in bases]), [b.bias for b in bases])
        self._pointers = [b.weight.data_ptr() for b in bases]
        self.pending: dict = {}
        self.pending_input = None

    def intact(self, adapter: str) -> bool:
        """Every member still one plain adapter on the shared weights (else each layer on its own)."""
        return all(m.base_layer.weight.data_ptr() == ptr for m, ptr in zip(self.members, self._pointers)) and all(
            m.active_adapters == [adapter] and not m.merged and adapter in m.lora_A and adapter not in m.lora_variant
            for m in self.members)

    def run(self, layer, x, adapter: str):
        got = self.pending.pop(layer, None) if self.pending_input is x else None
        if got is not None:
            if not self.pending:
                self.pending_input = None
            return got
        if len(self.members) > 1 and self.intact(adapter):
            members, weight, bias, splits = self.members, self.weight, self.bias, self.splits
        else:
            members, weight, bias = [layer], layer.base_layer.weight, layer.base_layer.bias
            splits = (weight.shape[0],)
        outs = _FN[0].apply(x, weight, bias, splits, tuple(m.scaling[adapter] for m in members),
                            *(m.lora_A[adapter].weight for m in members), *(m.lora_B[adapter].weight for m in members))
        self.pending = {m: out for m, out in zip(members, outs) if m is not layer}
        self.pending_input = x if self.pending else None
        return outs[members.index(layer)]

    def unshare(self) -> None:
        """Each member's weight back in a tensor of its own (savers treat shared storage as tied weights)."""
        if len(self.members) > 1:
            for m in self.members:
                for p in (m.base_layer.weight, m.base_layer.bias):
                    if p is not None:
                        p.data = p.data.clone()
        self.pending, self.pending_input = {}, None


def _share(whole, params: list):
    """Point each parameter at its rows of `whole` (same values, one storage)."""
    start = 0
    for p in params:
        p.data = whole[start:start + p.shape[0]]
        start += p.shape[0]
    return whole


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
    return getattr(self, _ATTR).run(self, x, adapter)


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


def _groups(model) -> list[list]:
    """Eligible layers, siblings of one input together (same input width, adapter, bias or none)."""
    taken, groups = set(), []
    for parent in model.modules():
        for names in SIBLINGS:
            layers = [getattr(parent, name, None) for name in names]
            if all(layer is not None and eligible(layer) for layer in layers) and len({
                    (m.in_features, tuple(m.active_adapters), m.base_layer.bias is None) for m in layers}) == 1:
                groups.append(layers)
                taken.update(id(m) for m in layers)
    groups += [[m] for m in model.modules() if id(m) not in taken and eligible(m)]
    return groups


def install(model) -> int:
    """Route every eligible LoRA layer through the fused step; returns how many."""
    if not _FN:
        _FN.append(_function())
    count = 0
    for members in _groups(model):
        group = _Group(members)
        for module in members:
            module.forward = _fused_forward.__get__(module)
            setattr(module, _ATTR, group)
            count += 1
    return count


def restore(model) -> None:
    """peft's own forward again (the saved model, generation and the probe use it), weights unshared."""
    for module in model.modules():
        group = getattr(module, _ATTR, None)
        if group is not None:
            if module is group.members[0]:
                group.unshare()
            del module.forward
            delattr(module, _ATTR)
