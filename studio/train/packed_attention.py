"""Padding-free attention without flash-attention: every packed row attends to itself only, row by row.

Why: a padding-free batch (train.args.padding_free) lays its rows end to end as one sequence. The varlen
flash-attention kernels read the row boundaries and stay linear in the rows; SDPA cannot, so
transformers builds a block-diagonal mask over the WHOLE packed sequence and SDPA computes (and
differentiates) attention over all of it: 8 rows of 70 tokens cost 560 x 560 scores instead of 8 x 70 x
70, and the masked CPU kernel is slower still. Profiled on a CPU, that was a fifth of a LoRA step.
Here the boundaries come from the position ids (they restart at 0 on every row, as trl's padding-free
collator writes them); one gather lays the rows out as a padded (rows, width) batch and each row gets a
plain causal softmax over its own keys: the same numbers up to float rounding. The softmax is written
out (two batched products, scores in fp32) rather than SDPA's: on a CPU its math kernel builds a causal
mask and upcasts on every call and its flash kernel's backward is several times slower, and grouped
query heads are folded into the query length so keys and values are never repeated (profiled: half
the attention's time).

Registered with transformers' AttentionInterface / AttentionMaskInterface under NAME; the mask
function asks for no mask (like flash-attention's), so no packed mask is ever built. A batch with a
padding mask (not padding-free) falls back to plain SDPA with a causal+padding mask.
"""

from __future__ import annotations

import functools

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
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_mask is not None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, _causal_padding_mask(attention_mask, query, key),
                                      dropout=dropout, scaling=scaling, is_causal=False, **kwargs)
    gather, keep, rows, width = _layout(kwargs.get("position_ids"), query.shape[2], query.device)
    if torch.is_autocast_enabled(query.device.type):  # fp32 projections (train.fused_lora): gather in bf16
        dtype = torch.get_autocast_dtype(query.device.type)
        query, key, value = query.to(dtype), key.to(dtype), value.to(dtype)
    heads, kv_heads, dim = query.shape[1], key.shape[1], query.shape[3]
    group = heads // kv_heads  # grouped queries share a key/value head: folded into the query length
    q = _to_rows(query, gather, rows, width).reshape(rows, kv_heads, group * width, dim)
    k, v = _to_rows(key, gather, rows, width), _to_rows(value, gather, rows, width)
    scores = torch.matmul(q, k.transpose(-1, -2)).view(rows, kv_heads, group, width, width).float()
    scale = scaling if scaling is not None else dim ** -0.5
    probs = torch.softmax(scores * scale + _causal(width, query.device), dim=-1).to(query.dtype)
    if dropout and module.training:
        probs = torch.nn.functional.dropout(probs, p=dropout)
    out = torch.matmul(probs.view(rows, kv_heads, group * width, width), v).view(rows, heads, width, dim)
    out = out.transpose(1, 2).reshape(rows * width, heads, dim).index_select(0, keep)
    return out.unsqueeze(0), None


@functools.lru_cache(maxsize=32)
def _causal(width: int, device):
    """The additive causal mask of one padded row (0 on and below the diagonal, -inf above)."""
    import torch

    return torch.full((width, width), float("-inf"), device=device).triu(1)


_LAST_LAYOUT: list = [None, None]  # [position_ids tensor, its layout]: every layer of one forward shares it


def _layout(position_ids, length: int, device):
    """Where each packed token sits in a (rows, width) batch, and back: computed once per forward.

    Row i's tokens go to [i, 0:len_i); the tail of a shorter row repeats its last token. A causal mask
    already keeps those tail keys away from every real query (they come after all of them), and the
    tail queries' outputs are dropped by `keep`, so no mask is needed.
    """
    import torch

    if _LAST_LAYOUT[0] is position_ids and position_ids is not None:
        return _LAST_LAYOUT[1]
    bounds = row_bounds(position_ids, length)
    width = max(e - s for s, e in bounds)
    offsets = torch.arange(width)
    starts = torch.tensor([s for s, _ in bounds])[:, None]
    lengths = torch.tensor([e - s for s, e in bounds])[:, None]
    gather = (starts + torch.minimum(offsets[None], lengths - 1)).flatten()
    keep = (torch.arange(len(bounds))[:, None] * width + offsets[None])[offsets[None] < lengths]
    layout = (gather.to(device), keep.to(device), len(bounds), width)
    _LAST_LAYOUT[:] = [position_ids, layout]
    return layout


def _to_rows(t, gather, rows: int, width: int):
    """(1, heads, tokens, dim) packed -> (rows, heads, width, dim) padded, by one gather."""
    return t[0].index_select(1, gather).view(t.shape[1], rows, width, t.shape[3]).transpose(0, 1).contiguous()


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
