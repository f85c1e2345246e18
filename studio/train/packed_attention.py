"""Padding-free attention without flash-attention: every packed row attends to itself only, row by row.

Why: a padding-free batch (train.args.padding_free) lays its rows end to end as one sequence. The varlen
flash-attention kernels read the row boundaries and stay linear in the rows; SDPA cannot, so
transformers builds a block-diagonal mask over the WHOLE packed sequence and SDPA computes (and
differentiates) attention over all of it: 8 rows of 70 tokens cost 560 x 560 scores instead of 8 x 70 x
70, and the masked CPU kernel is slower still. Profiled on a CPU, that was a fifth of a LoRA step.
Here the boundaries come from the position ids (they restart at 0 on every row, as trl's padding-free
collator writes them) and each row goes through SDPA's causal kernel alone: the same softmax over the
same keys, so the same numbers up to float rounding.

Registered with transformers' AttentionInterface / AttentionMaskInterface under NAME; the mask
function asks for no mask (like flash-attention's), so no packed mask is ever built. A batch with a
padding mask (not padding-free) falls back to plain SDPA with a causal+padding mask.
"""

from __future__ import annotations

NAME = "studio_packed_sdpa"


def row_bounds(position_ids, length: int) -> list[tuple[int, int]]:
    """[(start, end)) of every row of a packed sequence: a row starts where the position id is 0."""
    if position_ids is None:
        return [(0, length)]
    starts = (position_ids[0, :length] == 0).nonzero().flatten().tolist()
    if not starts or starts[0] != 0:
        starts = [0] + starts
    return list(zip(starts, starts[1:] + [length]))


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """query/key/value (batch, heads, tokens, head_dim) -> ((batch, tokens, heads, head_dim), None)."""
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    if attention_mask is not None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, _causal_padding_mask(attention_mask, query, key),
                                      dropout=dropout, scaling=scaling, is_causal=False, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    p = dropout if module.training else 0.0
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]):
        rows = [torch.nn.functional.scaled_dot_product_attention(query[:, :, s:e], key[:, :, s:e], value[:, :, s:e],
                                                                 dropout_p=p, is_causal=True, scale=scaling)
                for s, e in row_bounds(kwargs.get("position_ids"), query.shape[2])]
    out = rows[0] if len(rows) == 1 else torch.cat(rows, dim=2)
    return out.transpose(1, 2).contiguous(), None


def _causal_padding_mask(attention_mask, query, key):
    """A 4D boolean mask (causal and, when given, the 2D padding mask) for the SDPA fallback."""
    import torch

    q, k = query.shape[2], key.shape[2]
    causal = torch.ones(q, k, dtype=torch.bool, device=query.device).tril(diagonal=k - q)[None, None]
    if attention_mask is None:
        return causal
    if attention_mask.dim() == 4:
        return attention_mask
    return causal & attention_mask[:, None, None, -k:].bool()


def no_mask(batch_size: int, q_length: int, kv_length: int, q_offset: int = 0, kv_offset: int = 0,
            mask_function=None, attention_mask=None, **kwargs):
    """Like flash-attention's mask function: no mask unless there is padding (then the 2D mask)."""
    if attention_mask is not None:
        attention_mask = attention_mask[:, -kv_length:]
        if attention_mask.shape[1] == kv_length and attention_mask.all():
            return None
    return attention_mask


def register() -> str:
    """Make NAME a valid `attn_implementation` (idempotent); returns NAME."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, attention)
    AttentionMaskInterface.register(NAME, no_mask)
    return NAME


def use_for_training(model, log) -> bool:
    """Switch a padding-free SDPA model to row-by-row attention (see the module docstring)."""
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    try:
        model.set_attn_implementation(register())
    except (ValueError, AttributeError) as exc:  # a model without the attention interface: keep SDPA
        log(f"padding-free: row-by-row attention unavailable ({exc}); using masked SDPA")
        return False
    return True


def restore(model) -> None:
    """Back to plain SDPA after training (generation and the saved config use the standard name)."""
    config = getattr(getattr(model, "get_base_model", lambda: model)(), "config", None)
    if getattr(config, "_attn_implementation", None) == NAME:
        model.set_attn_implementation("sdpa")
