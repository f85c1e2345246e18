"""The meta probe: the wrapped model on the meta device, what one step saves for backward and its FLOPs."""

from __future__ import annotations

from dataclasses import dataclass

from .units import DTYPE_BYTES, MiB

def _register_probe_attention() -> str:
    """An attention function for the meta probe that saves what flash-style kernels save (no s x s).

    On the meta device `scaled_dot_product_attention` always takes its math path, which keeps the
    (seq x seq) attention probabilities; CPU and CUDA runs use fused kernels that keep only q, k, v,
    the output and a log-sum-exp. This calls the CPU flash kernel's meta implementation instead.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    name = "studio_probe"
    if name not in AttentionInterface._global_mapping:
        import torch
        from transformers.integrations.sdpa_attention import repeat_kv

        def probe_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **_kw):
            groups = getattr(module, "num_key_value_groups", 1)
            if groups > 1:
                key, value = repeat_kv(key, groups), repeat_kv(value, groups)
            out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                query, key, value, dropout, is_causal=True, scale=scaling)[0]
            return out.transpose(1, 2).contiguous(), None

        AttentionInterface.register(name, probe_attention)
        AttentionMaskInterface.register(name, sdpa_mask)
    return name


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _meta_model(config: dict, kind: str, dtype):
    import torch
    import transformers
    from transformers import AutoConfig

    from ..models.loading import MODEL_KINDS

    data = dict(config)
    data.pop("quantization_config", None)
    data.pop("dtype", None)
    data.pop("torch_dtype", None)
    cfg = AutoConfig.for_model(data.pop("model_type"), **data)
    if kind == "sequence_classification":
        cfg.num_labels = 1
    with torch.device("meta"):
        model = getattr(transformers, MODEL_KINDS[kind][0]).from_config(cfg, dtype=dtype)
    return model


def _quantised(load_kwargs: dict, model) -> tuple[set[int], float]:
    """Parameter ids bitsandbytes would quantise and their bits per weight (constants included)."""
    import torch

    q = load_kwargs.get("quantization_config")
    if q is None or not (getattr(q, "load_in_4bit", False) or getattr(q, "load_in_8bit", False)):
        return set(), 0.0
    if getattr(q, "load_in_4bit", False):
        # one fp32 absmax per 64 weights, or with double quantisation an 8-bit one plus fp32 per 256 blocks
        bits = 4 + (8 / 64 + 32 / (64 * 256) if q.bnb_4bit_use_double_quant else 32 / 64)
    else:
        bits = 8 + 32 / 4096  # int8 weights + per-row scales (rows are thousands wide)
    skip = set(getattr(q, "llm_int8_skip_modules", None) or [])
    out = model.get_output_embeddings()
    ids = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not out and name.split(".")[-1] not in skip:
            ids.add(id(module.weight))
    return ids, bits


@dataclass
class Probe:
    weights: int
    trainable: int
    total_params: int
    trainable_tensors: list[tuple[str, tuple[int, ...], int]]  # name, shape, bytes per element
    saved: int  # bytes autograd keeps for backward
    saved_small: int  # ... of it in per-token tensors under glibc's largest mmap threshold (32 MiB)
    saved_checkpointed: int
    layer_saved: int  # one decoder layer's saved bytes (recomputed at once under checkpointing)
    flops_step: float  # forward + backward FLOPs of the probed batch
    flops_forward: float
    tokens: int
    hidden: int
    vocab: int
    layers: int
    method_extra: int
    layer_weights: int  # bytes of the largest decoder layer (ZeRO-3 gathers layers one at a time)


MMAP_MAX = 32 * MiB


def _saved_bytes(model, run, tokens: int = 0) -> tuple[int, int]:
    """(bytes autograd saves, of them in per-token tensors small enough for glibc's heaps)."""
    import torch

    params = {p.untyped_storage()._cdata for p in model.parameters()}
    seen: dict[int, tuple[int, bool]] = {}

    def pack(t):
        storage = t.untyped_storage()
        key = storage._cdata
        if key not in params and key not in seen:
            per_token = bool(tokens) and t.numel() % tokens == 0
            seen[key] = (storage.nbytes(), per_token)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return (sum(n for n, _ in seen.values()),
            sum(n for n, per_token in seen.values() if per_token and n < MMAP_MAX))


_PROBES: dict[str, Probe] = {}


def probe(config: dict, spec, device: str, rows: int, seq: int, flops: bool = True) -> Probe:
    """`_probe`, remembered: the UI asks again for the same run, suggestions ask for variants."""
    import json

    key = json.dumps([config, spec.model.dtype, spec.method, spec.method_args, spec.stage,
                      spec.training.precision, device, rows, seq, flops], sort_keys=True, default=str)
    if key not in _PROBES:
        if len(_PROBES) > 32:
            _PROBES.clear()
        _PROBES[key] = _probe(config, spec, device, rows, seq, flops)
    return _PROBES[key]


def _probe(config: dict, spec, device: str, rows: int, seq: int, flops: bool) -> Probe:
    """Wrap the model on the meta device and measure what one training step keeps and computes."""
    import torch
    from transformers.utils import logging as hf_logging

    model, counts = _wrapped_meta(config, spec, device)
    model.to(dtypes(spec, device)[1])  # autocast: the step computes in the compute dtype
    attn = _register_probe_attention()
    for sub in model.modules():
        if hasattr(sub, "config") and hasattr(sub.config, "_attn_implementation"):
            sub.config._attn_implementation = attn
    model.train()
    ids = torch.zeros(rows, seq, dtype=torch.long, device="meta")

    def forward():
        return model(input_ids=ids, use_cache=False).logits

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # checkpointing notices are about the probe, not the user's run
    try:
        measured = _measure(model, forward, rows * seq, flops)
    finally:
        hf_logging.set_verbosity(verbosity)
    text_cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    n_layers = counts.pop("layers")
    layer_saved = max(0, measured["saved"] - measured["saved_checkpointed"]) // n_layers
    return Probe(**counts, **measured, layer_saved=layer_saved, tokens=rows * seq, hidden=int(text_cfg.hidden_size),
                 vocab=int(getattr(text_cfg, "vocab_size", 0) or 0), layers=n_layers)


def _wrapped_meta(config: dict, spec, device: str):
    """The model wrapped by the method on the meta device, and its weights / trainable tensors."""
    import torch

    from .. import methods, stages
    from ..models.loading import ensure_head_trainable

    method = methods.REGISTRY.get(spec.method)
    cfg = spec.method_config()
    load_dtype = dtypes(spec, device)[0]
    model = _meta_model(config, stages.REGISTRY.get(spec.stage).model_kind, load_dtype)
    quant_ids, bits = _quantised(method.load_kwargs(cfg, device), model)
    layers = _decoder_layers(model)
    layer_weights = max((sum(p.numel() * p.element_size() for p in layer.parameters()) for layer in layers),
                        default=0)
    if quant_ids:
        layer_weights = int(layer_weights * bits / 8 / DTYPE_BYTES[_dtype_name(load_dtype)])
    with torch.device("meta"):
        model = ensure_head_trainable(method.wrap(model, method.meta_config(cfg)), method.name)
    counts = {"weights": 0, "trainable": 0, "total_params": 0, "trainable_tensors": [],
              "layer_weights": layer_weights, "layers": max(1, len(layers))}
    for name, p in model.named_parameters():
        counts["total_params"] += p.numel()
        counts["weights"] += int(p.numel() * bits / 8) if id(p) in quant_ids else p.numel() * p.element_size()
        if p.requires_grad:
            counts["trainable"] += p.numel()
            counts["trainable_tensors"].append((name, tuple(p.shape), p.element_size()))
    counts["method_extra"] = int(method.extra_memory(model, cfg) or 0)
    return model, counts


def _measure(model, forward, tokens: int, flops: bool) -> dict:
    """Saved bytes with and without checkpointing, and FLOPs of forward + backward."""
    from unittest import mock

    from torch.utils.flop_counter import FlopCounterMode

    fwd = step = 0
    # the packed-sequence check reads tensor values, which meta tensors do not have
    with mock.patch("transformers.masking_utils.find_packed_sequence_indices", return_value=None):
        if flops:
            holder: dict = {}
            with FlopCounterMode(display=False) as counter:
                saved, small = _saved_bytes(model, lambda: holder.setdefault("logits", forward()), tokens)
                fwd = counter.get_total_flops()
                holder.pop("logits").float().sum().backward()
                step = counter.get_total_flops()
            model.zero_grad(set_to_none=True)
        else:
            saved, small = _saved_bytes(model, forward, tokens)
        checkpointed = _checkpointed_saved(model, forward)
    return {"saved": saved, "saved_small": small, "saved_checkpointed": checkpointed,
            "flops_step": float(step), "flops_forward": float(fwd)}


def _checkpointed_saved(model, forward) -> int:
    try:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
        return _saved_bytes(model, forward)[0]
    except (ValueError, AttributeError):  # a model without checkpointing support saves everything
        return _saved_bytes(model, forward)[0]
    finally:
        if getattr(model, "is_gradient_checkpointing", False):
            model.gradient_checkpointing_disable()


def _decoder_layers(model) -> list:
    import torch

    best: list = []
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > len(best):
            best = list(module)
    return best


def dtypes(spec, device: str):
    """(dtype the weights load in, dtype the step computes in): the run's own decision (train.precision)."""
    import torch

    from ..train.precision import plan

    load, act = plan(spec, device)
    return getattr(torch, load), getattr(torch, act)
