"""Memory and time estimate for a run spec, before any weights are loaded.

How the numbers are made:

- The model is built on PyTorch's meta device from its config (no memory) and wrapped by the method
  exactly as a run wraps it; weights, gradients and optimizer states are summed from the real
  parameter shapes and dtypes (quantised linear layers at their bit width plus quantisation
  constants). A method can add bytes of its own (`Method.extra_memory`), a stage its reference,
  teacher or reward models and its sequences per example (`Stage.memory`).
- Activations are *measured* on the meta device: one forward pass of the wrapped model runs under
  `torch.autograd.graph.saved_tensors_hooks`, which sees every tensor autograd keeps for the backward
  pass (deduplicated by storage, parameters excluded), with or without gradient checkpointing. The
  loss head that trl computes in chunks (`trl.kernels.ChunkedLogProbFunction`) is added from its
  tile sizes. The same pass under `torch.utils.flop_counter.FlopCounterMode` (forward + backward)
  gives the FLOPs of a step.
- What the allocator does on top (glibc keeps freed blocks, CUDA's caching allocator rounds) and the
  process's own footprint are constants measured on real runs: `bench/memory.py` prints estimate vs
  measured peak for several methods (see CALIBRATION below).
- Time: FLOPs per step divided by a throughput measured here and now (a short matmul probe, scaled
  by the share of matmul speed that training reaches, also measured by the benchmark), so a busy
  machine gives a slower, truthful ETA.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from .errors import StudioError

GiB = 1024 ** 3
MiB = 1024 ** 2

# Measured on this project's CPU machine (2 cores, glibc malloc, torch 2.13) and on CUDA notes; see
# bench/memory.py, which prints the estimate next to the measured peak for each method.
CALIBRATION = {
    # resident memory of a training worker before the model: python, torch, transformers, trl, peft,
    # datasets imported, tokenizer and data loaded (measured 0.60 GiB)
    "cpu_process": 0.62 * GiB,
    # CUDA context + cuBLAS/cuDNN workspaces, outside torch's allocator
    "cuda_context": 0.55 * GiB,
    # glibc serves blocks under its mmap threshold (at most 32 MiB) from heaps it keeps after a step: this
    # share of the per-token activations made of such blocks stays mapped as free heap (measured 0.86 with
    # SmolLM2-135M LoRA at 600 and 2048 tokens per batch, from the second step on) ...
    "cpu_heap_garbage": 0.86,
    # ... and the gradients, allocated while the backward pass frees activations, reuse part of it
    "cpu_grad_reuse": 0.6,
    # CUDA caching allocator: block rounding and fragmentation on the step's tensors
    "cuda_allocator": 1.10,
    # share of the smaller of (activations, gradients) alive together at the backward pass's peak
    "cuda_grad_overlap": 0.25,
    # transient (tokens x vocab-chunk) tiles alive at once in trl's chunked log-prob head
    # (measured 8.3-8.7 in the backward pass on CPU, where the tiles are plain torch ops)
    "head_tiles_cpu": 8.4,
    "head_tiles_cuda": 2.0,
    # share of measured matmul FLOP/s that a whole training step reaches
    "cpu_efficiency": 0.55,
    "cuda_efficiency": 0.40,
}
# how full memory may be before the verdict becomes "tight" (a warning) and "too big" (a refusal)
TIGHT_AT = 0.85
# trl.kernels.chunked_logprob tile sizes (tokens x vocab columns)
TOKEN_CHUNK = 4096
VOCAB_CHUNK = 32768

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8, "int8": 1, "uint8": 1}

# Shapes of common open models, used only when a model's own config.json cannot be read (a hub id that
# is not downloaded yet): the one closest to the size in the model's name (e.g. "...-7B-...").
REFERENCE_SHAPES = {
    "Qwen2.5-0.5B": dict(hidden_size=896, num_hidden_layers=24, intermediate_size=4864, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "Qwen2.5-1.5B": dict(hidden_size=1536, num_hidden_layers=28, intermediate_size=8960, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "Qwen2.5-3B": dict(hidden_size=2048, num_hidden_layers=36, intermediate_size=11008, num_attention_heads=16,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "Qwen2.5-7B": dict(hidden_size=3584, num_hidden_layers=28, intermediate_size=18944, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "Llama-3.1-8B": dict(hidden_size=4096, num_hidden_layers=32, intermediate_size=14336, num_attention_heads=32,
                         num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False),
    "Llama-2-13B": dict(hidden_size=5120, num_hidden_layers=40, intermediate_size=13824, num_attention_heads=40,
                        num_key_value_heads=40, vocab_size=32000, tie_word_embeddings=False),
    "Qwen2.5-32B": dict(hidden_size=5120, num_hidden_layers=64, intermediate_size=27648, num_attention_heads=40,
                        num_key_value_heads=8, vocab_size=152064, tie_word_embeddings=False),
    "Llama-3.1-70B": dict(hidden_size=8192, num_hidden_layers=80, intermediate_size=28672, num_attention_heads=64,
                          num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False),
}

TEXTS = {
    "en": {
        "weights": "Weights", "gradients": "Gradients", "optimizer": "Optimizer states",
        "activations": "Activations", "extra_models": "Reference / teacher / reward models",
        "method_extra": "Method extras", "overhead": "Runtime overhead",
        "fits": "Fits: about {total} of {available} ({pct}%) on {where}.",
        "tight": "Tight: about {total} of {available} ({pct}%) on {where}; it may run out of memory.",
        "too_big": "Does not fit: about {total} needed, {available} available on {where}.",
        "unknown": "About {total} needed on {where} (free memory unknown).",
        "sug_quantised": "use method {name}: base weights in {bits} bits",
        "sug_checkpointing": "turn on training.gradient_checkpointing",
        "sug_batch": "lower training.batch_size to {value} (raise grad_accum to keep the effective batch)",
        "sug_length": "lower training.max_length to {value}",
        "sug_optimizer": "use optimizer {value} (8-bit optimizer states)",
        "sug_zero3": "set resources.deepspeed: zero3 (shards weights, gradients and optimizer states over the GPUs)",
        "sug_gpus": "train on {value} GPUs with ZeRO-3",
        "sug_result": "{text} → about {total}",
        "time": "≈ {step} per step × {steps} steps ≈ {eta} ({how})",
        "no_time": "no time estimate for hardware that is not here (give its TFLOP/s)",
    },
    "zh": {
        "weights": "权重", "gradients": "梯度", "optimizer": "优化器状态",
        "activations": "激活值", "extra_models": "参考 / 教师 / 奖励模型",
        "method_extra": "方法额外占用", "overhead": "运行时开销",
        "fits": "放得下：约需 {total}，{where} 可用 {available}（{pct}%）。",
        "tight": "偏紧：约需 {total}，{where} 可用 {available}（{pct}%），可能内存不足。",
        "too_big": "放不下：约需 {total}，{where} 只有 {available}。",
        "unknown": "{where} 约需 {total}（可用内存未知）。",
        "sug_quantised": "改用方法 {name}：基座权重以 {bits} 位存储",
        "sug_checkpointing": "开启 training.gradient_checkpointing（梯度检查点）",
        "sug_batch": "把 training.batch_size 降到 {value}（同时增大 grad_accum 保持等效批次）",
        "sug_length": "把 training.max_length 降到 {value}",
        "sug_optimizer": "改用优化器 {value}（8 位优化器状态）",
        "sug_zero3": "设置 resources.deepspeed: zero3（在多卡间切分权重、梯度和优化器状态）",
        "sug_gpus": "用 {value} 张 GPU 并开启 ZeRO-3",
        "sug_result": "{text} → 约 {total}",
        "time": "每步约 {step} × {steps} 步 ≈ {eta}（{how}）",
        "no_time": "不在本机的硬件无法估计时间（请提供其 TFLOP/s）",
    },
}
PARTS = ("weights", "gradients", "optimizer", "activations", "extra_models", "method_extra", "overhead")


def text(lang: str, key: str, **values) -> str:
    table = TEXTS.get(lang) or TEXTS["en"]
    return (table.get(key) or TEXTS["en"][key]).format(**values)


def human(n: float) -> str:
    return f"{n / GiB:.2f} GiB" if abs(n) >= 0.1 * GiB else f"{n / MiB:.0f} MiB"


def human_time(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def parse_size(value: str | float | int) -> int:
    """'24GiB', '24 GB', '80G', '512MiB' or a number of bytes -> bytes (GB is read as GiB: cards are sold so)."""
    if isinstance(value, (int, float)):
        return int(value)
    m = re.fullmatch(r"\s*([\d.]+)\s*([kmgt]?)i?b?\s*", str(value), re.I)
    if not m:
        raise StudioError(f"'{value}' is not a memory size", "write it like 24GiB, 80GB or 512MiB")
    power = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[m.group(2).lower()]
    return int(float(m.group(1)) * 1024 ** power)


# ---------------------------------------------------------------------------------------- hardware

@dataclass
class Hardware:
    device: str  # "cpu" | "cuda"
    count: int = 1  # processes / GPUs sharing the work
    memory: int | None = None  # bytes per device available to the run (None: unknown)
    label: str = ""
    flops: float | None = None  # achieved matmul FLOP/s per device (None: no time estimate)
    flops_how: str = ""


def hardware_here(spec, timing: bool = True) -> Hardware:
    """The machine this process runs on, as the run would use it (free memory now, matmul speed now)."""
    import psutil

    device = spec.resources.device
    if device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            visible = torch.cuda.device_count()
            count = min(spec.resources.num_gpus, visible)
            free = min(torch.cuda.mem_get_info(i)[0] for i in range(count))
            name = torch.cuda.get_device_name(0)
            rate = measured_flops("cuda") if timing else None
            return Hardware("cuda", spec.resources.num_gpus, free, f"{count}× {name} (free now)",
                            rate, "matmul probe on this GPU now")
        if device == "cuda":
            raise StudioError("resources.device is 'cuda' but no CUDA GPU is visible",
                              "estimate for a named GPU with --gpu-memory 24GiB, or set resources.device: cpu")
    available = psutil.virtual_memory().available
    return Hardware("cpu", 1, available, "this machine's RAM (available now)",
                    measured_flops("cpu") if timing else None, "matmul probe on this CPU now")


def named_hardware(memory: str | int, count: int = 1, device: str = "cuda", tflops: float | None = None) -> Hardware:
    """A device that need not be here, e.g. a 24 GiB GPU, for presets and planning."""
    size = parse_size(memory)
    label = f"{count}× {device.upper()} {human(size)}" if device == "cuda" else f"CPU with {human(size)}"
    return Hardware(device, count, size, label, tflops * 1e12 if tflops else None,
                    "the TFLOP/s you gave" if tflops else "")


_FLOPS_CACHE: dict[str, tuple[float, float]] = {}


def measured_flops(device: str, seconds: float = 0.3) -> float:
    """Matmul FLOP/s reachable right now (cached for a minute): what this machine gives a run today."""
    now = time.time()
    if device in _FLOPS_CACHE and now - _FLOPS_CACHE[device][1] < 60:
        return _FLOPS_CACHE[device][0]
    import torch

    n = 1024 if device == "cuda" else 512
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    (a @ b).sum().item()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(4 if device == "cpu" else 50):
            c = a @ b
        count += 4 if device == "cpu" else 50
        if device == "cuda":
            c.sum().item()
    rate = 2 * n ** 3 * count / (time.perf_counter() - start)
    _FLOPS_CACHE[device] = (rate, now)
    return rate


# ----------------------------------------------------------------------------------- model configs

@lru_cache(maxsize=32)
def _cached_hub_config(name: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(name, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        return None
    return Path(path).read_text(encoding="utf-8") if isinstance(path, str) else None


def model_config(name: str, revision: str | None = None) -> tuple[dict, str]:
    """(config.json as a dict, where it came from) without downloading anything."""
    import json

    from .methods.params import _config_json, local_config
    from .models import EMBEDDED, TINY

    found = local_config(name)
    if found is not None:
        return found, "config.json"
    if name in (EMBEDDED, TINY) or Path(name).expanduser().is_dir():
        return json.loads(_config_json(name)), "config.json"
    cached = _cached_hub_config(name, revision)
    if cached:
        return json.loads(cached), "config.json (Hugging Face cache)"
    return _reference_for(name)


def _reference_for(name: str) -> tuple[dict, str]:
    match = re.search(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", name.split("/")[-1])
    if not match:
        raise StudioError(f"Cannot read the config of model '{name}' without downloading it",
                          "download the model first (or give a local folder); sizes like 7B in the name "
                          "also let the estimate use a typical architecture")
    want = float(match.group(1)) * 1e9
    best = min(REFERENCE_SHAPES, key=lambda k: abs(math.log(_shape_params(REFERENCE_SHAPES[k]) / want)))
    shape = dict(REFERENCE_SHAPES[best], model_type="llama", hidden_act="silu")
    return shape, f"not downloaded: shape of {best} (closest to {match.group(0)} in the name)"


def _shape_params(s: dict) -> float:
    h, layers, inter, v = s["hidden_size"], s["num_hidden_layers"], s["intermediate_size"], s["vocab_size"]
    kv = h * s["num_key_value_heads"] / s["num_attention_heads"]
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * inter
    return layers * per_layer + v * h * (1 if s["tie_word_embeddings"] else 2)


# ------------------------------------------------------------------------------------ meta probe

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

    from .models.loading import MODEL_KINDS

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
    model.to(_dtypes(spec, device)[1])  # autocast: the step computes in the compute dtype
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

    from . import methods, stages
    from .models.loading import ensure_head_trainable

    method = methods.REGISTRY.get(spec.method)
    cfg = spec.method_config()
    load_dtype = _dtypes(spec, device)[0]
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


def _dtypes(spec, device: str):
    """(dtype the weights load in, dtype the step computes in) for this spec on this device."""
    import torch

    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if spec.model.dtype != "auto":
        load = names[spec.model.dtype]
    else:
        load = torch.bfloat16 if device == "cuda" else torch.float32
    from .train.args import cpu_has_bf16

    precision = spec.training.precision
    if precision == "bf16" or (precision == "auto" and (device == "cuda" or cpu_has_bf16())):
        act = torch.bfloat16
    elif precision == "fp16":
        act = torch.float16
    else:
        act = load
    return load, act


# ------------------------------------------------------------------------------- optimizer states

def optimizer_bytes(optim: str, optim_args: str, tensors: list[tuple[str, tuple[int, ...], int]],
                    target_modules: str = "all-linear") -> int:
    """Bytes of optimizer state for the trainable tensors under a transformers optimizer name."""
    args = dict(p.split("=", 1) for p in (x.strip() for x in (optim_args or "").split(",")) if "=" in p)
    eight_bit = "8bit" in optim
    if optim.startswith(("galore_", "apollo_")):
        return _projected_bytes(optim, args, tensors, target_modules, eight_bit)
    if "sgd" in optim:
        states = 1 if float(args.get("momentum", 0) or 0) > 0 else 0
    elif "adafactor" in optim:
        return sum(4 * (sum(shape[-2:]) if len(shape) >= 2 else shape[0]) for _n, shape, _b in tensors)
    elif any(k in optim for k in ("lion", "rmsprop", "adagrad")):
        states = 1
    else:
        states = 2  # Adam / AdamW and their fused, paged and bitsandbytes variants
    total = 0
    for _name, shape, elem in tensors:
        n = math.prod(shape)
        # bitsandbytes keeps small tensors (< 4096 entries) in 32-bit
        per = 1 + 8 / 2048 if eight_bit and n >= 4096 else (4 if eight_bit or "32bit" in optim else elem)
        total += int(states * n * per)
    return total


def _projected_bytes(optim, args, tensors, target_modules, eight_bit) -> int:
    rank = int(args.get("rank", 128))
    targets = None if target_modules.strip() == "all-linear" else [t.strip() for t in target_modules.split(",")]
    per = 1 if eight_bit else 4
    total = 0
    for name, shape, elem in tensors:
        n = math.prod(shape)
        projected = len(shape) == 2 and (targets is None or any(t in name for t in targets)) \
            and min(shape) > rank
        if projected:
            big = max(shape)
            total += 2 * big * rank * per + min(shape) * rank * 4  # Adam on the projection + the projector
        else:
            total += 2 * n * elem
    return total


# --------------------------------------------------------------------------------------- data stats

@dataclass
class DataStats:
    rows: int = 0
    longest: int = 0  # tokens of the longest sequence
    lengths: list[int] = field(default_factory=list)  # tokens per sequence (a sample)
    how: str = ""


def data_stats(spec, workspace_root: Path | None, tokenizer=None) -> DataStats | None:
    """Row count and token lengths of the run's data (None when it cannot be read yet)."""
    if not spec.data.path:
        return None
    from . import stages
    from .data.prepare import convert_all, load_rows

    try:
        loaded = load_rows(spec.data.path, spec.data.format, spec.data.columns, workspace_root)
        rows = convert_all(loaded, stages.REGISTRY.get(spec.stage).data_target, spec.data.system_prompt)
    except StudioError:
        return None
    if spec.data.max_rows:
        rows = rows[: spec.data.max_rows]
    n_train = len(rows) - (int(round(len(rows) * spec.data.val_size)) if spec.data.val_size > 0 else 0)
    texts = [t for row in rows for t in _sequences(row, tokenizer)]
    if len(texts) > 2000:  # the longest by characters plus an even sample for the mean
        by_len = sorted(texts, key=len)
        texts = by_len[-200:] + by_len[: -200: max(1, (len(by_len) - 200) // 1800)]
    if tokenizer is not None:
        lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        how = "tokens counted with the model's tokenizer"
    else:
        lengths = [max(1, round(len(t) / 3)) for t in texts]
        how = "tokens guessed at 3 characters each (tokenizer not loaded)"
    return DataStats(rows=max(1, n_train), longest=max(lengths, default=0), lengths=lengths, how=how)


def _sequences(row: dict, tokenizer) -> list[str]:
    """The texts the model sees for one converted row (a preference row is two sequences)."""
    def render(messages) -> str:
        if tokenizer is not None and getattr(tokenizer, "chat_template", None):
            try:
                return tokenizer.apply_chat_template(messages, tokenize=False)
            except Exception:  # noqa: BLE001 - an odd row only changes a length
                pass
        return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))

    def as_msgs(value):
        return value if isinstance(value, list) else [{"role": "user", "content": str(value)}]

    if "messages" in row:
        return [render(row["messages"])]
    prompt = as_msgs(row["prompt"]) if "prompt" in row else []
    if "chosen" in row and "rejected" in row:
        return [render(prompt + as_msgs(row["chosen"])), render(prompt + as_msgs(row["rejected"]))]
    if "completion" in row:
        return [render(prompt + as_msgs(row["completion"]))]
    if prompt:
        return [render(prompt)]
    if "text" in row:
        return [str(row["text"])]
    return [" ".join(str(v) for v in row.values() if isinstance(v, str))]


def _expected_batch_max(lengths: list[int], batch: int) -> float:
    """Mean length of the longest sequence in a random batch (batches are padded to it)."""
    if not lengths:
        return 0.0
    ordered = sorted(lengths)
    n = len(ordered)
    return sum(v * ((k / n) ** batch - ((k - 1) / n) ** batch) for k, v in enumerate(ordered, 1))


def _tokenizer_for(spec):
    """The model's tokenizer if it is on disk (never downloads); None otherwise."""
    from .models import EMBEDDED, TINY
    from .models.cache import cache_dir, is_built

    name = spec.model.name
    try:
        from transformers import AutoTokenizer

        if name in (EMBEDDED, TINY):
            path = cache_dir(name) if is_built(name) else None
            if path is None and name == EMBEDDED and is_built("smollm2-tokenizer"):
                path = cache_dir("smollm2-tokenizer")
            return AutoTokenizer.from_pretrained(path) if path else None
        if Path(name).expanduser().is_dir():
            return AutoTokenizer.from_pretrained(Path(name).expanduser())
        return AutoTokenizer.from_pretrained(name, local_files_only=True, revision=spec.model.revision)
    except Exception:  # noqa: BLE001 - no tokenizer only makes the lengths a guess
        return None


# ----------------------------------------------------------------------------------------- estimate

@dataclass
class Suggestion:
    key: str
    values: dict
    total: int
    fits: bool

    def text(self, lang: str = "en") -> str:
        return text(lang, "sug_result", text=text(lang, self.key, **self.values), total=human(self.total))


@dataclass
class Estimate:
    parts: dict[str, int]
    total: int
    hardware: Hardware
    verdict: str  # fits | tight | too_big | unknown
    suggestions: list[Suggestion]
    details: dict
    seconds_per_step: float | None = None
    steps: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def eta_s(self) -> float | None:
        return None if self.seconds_per_step is None or self.steps is None else self.seconds_per_step * self.steps

    def headline(self, lang: str = "en") -> str:
        h = self.hardware
        values = dict(total=human(self.total), available=human(h.memory or 0), where=h.label,
                      pct=round(100 * self.total / h.memory) if h.memory else 0)
        return text(lang, self.verdict, **values)

    def time_line(self, lang: str = "en") -> str:
        if self.seconds_per_step is None:
            return text(lang, "no_time")
        return text(lang, "time", step=human_time(self.seconds_per_step), steps=self.steps,
                    eta=human_time(self.eta_s), how=self.details.get("time_how", ""))

    def rows(self, lang: str = "en") -> list[tuple[str, str, float]]:
        """(part, size, share of the total) for a table or a bar."""
        return [(text(lang, k), human(v), v / self.total if self.total else 0.0)
                for k, v in self.parts.items() if v > 0]

    def report(self, lang: str = "en") -> str:
        width = max(len(name) for name, _s, _f in self.rows(lang))
        lines = [self.headline(lang), ""]
        for name, size, share in self.rows(lang):
            lines.append(f"  {name:<{width}}  {size:>10}  {'█' * max(1, round(share * 30))}")
        lines.append(f"  {'=' * width}  {human(self.total):>10}")
        lines += ["", self.time_line(lang)]
        d = self.details
        lines.append(f"model {d['model']} ({d['params']:,} parameters, {d['trainable']:,} trainable; "
                     f"{d['config_source']}); batch {d['batch']} × {d['sequences']:g} seq × {d['seq_len']} tokens"
                     f"{' (checkpointing)' if d['checkpointing'] else ''}; {d['data_how']}")
        lines += self.notes
        for s in self.suggestions:
            lines.append(("✓ " if s.fits else "· ") + s.text(lang))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "total_bytes": self.total, "parts_bytes": self.parts,
                "available_bytes": self.hardware.memory, "hardware": asdict(self.hardware),
                "seconds_per_step": self.seconds_per_step, "steps": self.steps, "eta_s": self.eta_s,
                "suggestions": [{"text": s.text("en"), "total_bytes": s.total, "fits": s.fits}
                                for s in self.suggestions],
                "details": self.details, "notes": self.notes, "headline": self.headline("en")}


def estimate(spec, workspace_root: Path | None = None, hardware: Hardware | None = None,
             config: dict | None = None, suggest: bool = True, quick: bool = False) -> Estimate:
    """Memory (per device) and time of `spec` on `hardware` (default: this machine now).

    `quick` (the check before a run starts) skips the time estimate.
    """
    from .recipe.rows import concrete  # `auto` steps / learning rate / split: the numbers the run will use

    spec = concrete(spec, workspace_root)
    hw = hardware or hardware_here(spec, timing=not quick)
    if quick:
        hw.flops = None
    cfg, source = (config, "given architecture") if config else model_config(spec.model.name, spec.model.revision)
    tokenizer = _tokenizer_for(spec)
    stats = data_stats(spec, workspace_root, tokenizer)
    plan = _plan(spec, hw, stats)
    result = _assemble(spec, hw, cfg, plan)
    result.details.update(config_source=source, data_how=plan["data_how"])
    if suggest and result.verdict in ("tight", "too_big"):
        result.suggestions = _suggestions(spec, hw, cfg, plan, result)
    return result


def _plan(spec, hw: Hardware, stats: DataStats | None) -> dict:
    """Sequence lengths and steps: from the data when it can be read, else max_length everywhere."""
    from . import stages

    t = spec.training
    mem = stages.REGISTRY.get(spec.stage).memory(spec)
    if stats is None or t.packing or not stats.lengths:
        seq = time_seq = t.max_length
        how = "no data read: every row taken as max_length tokens" if stats is None else \
            ("packing: every sequence is max_length tokens" if t.packing else stats.how)
    else:
        seq = min(t.max_length, stats.longest)
        time_seq = min(t.max_length, round(_expected_batch_max(stats.lengths, t.batch_size)))
        how = f"{stats.how}; longest {stats.longest}"
    seq = max(8, seq + mem.generated_tokens) if mem.generated_tokens else max(8, seq)
    time_seq = max(8, time_seq + mem.generated_tokens)
    if t.max_steps > 0:
        steps = t.max_steps
    elif stats is not None:
        rows = stats.rows
        if t.packing:
            rows = max(1, math.ceil(sum(stats.lengths) * stats.rows / max(1, len(stats.lengths)) / t.max_length))
        per_step = t.batch_size * t.grad_accum * max(1, spec.resources.num_gpus)
        steps = max(1, math.ceil(rows / per_step) * math.ceil(t.num_epochs))
    else:
        steps = None
    return {"seq": seq, "time_seq": time_seq, "steps": steps, "memory": mem, "data_how": how}


def _assemble(spec, hw: Hardware, cfg: dict, plan: dict, batch: int | None = None, seq: int | None = None,
              checkpointing: bool | None = None, optimizer: str | None = None, deepspeed: str | None = None,
              count: int | None = None, probed: Probe | None = None) -> Estimate:
    t = spec.training
    mem = plan["memory"]
    batch = batch or t.batch_size
    seq = seq or plan["seq"]
    ckpt = t.gradient_checkpointing if checkpointing is None else checkpointing
    optim = optimizer or t.optimizer
    zero = deepspeed or spec.resources.deepspeed
    n = count or hw.count
    rows = max(1, math.ceil(batch * mem.sequences_per_row))
    p = probed or probe(cfg, spec, hw.device, rows, seq, flops=bool(hw.flops))
    scale = rows * seq / p.tokens  # the probe may have run at another batch or length
    elem = 2 if hw.device == "cuda" and t.precision != "fp32" else 4
    grads = sum(math.prod(s) * e for _n, s, e in p.trainable_tensors)
    if zero != "none":  # DeepSpeed keeps fp32 optimizer states and fp32 master copies of 16-bit weights
        fp32 = [(name, shape, 4) for name, shape, _e in p.trainable_tensors]
        opt = optimizer_bytes(optim, t.optim_args, fp32, t.optim_target_modules)
        opt += sum(math.prod(s) * 4 for _n, s, e in p.trainable_tensors if e < 4)
    else:
        opt = optimizer_bytes(optim, t.optim_args, p.trainable_tensors, t.optim_target_modules)
    weights = p.weights
    if n > 1 and zero == "zero3":
        weights = weights // n + 2 * p.layer_weights
    if n > 1 and zero in ("zero2", "zero3"):
        grads, opt = grads // n, opt // n
    elif n > 1:
        grads *= 2  # DDP keeps its gradient buckets beside the gradients
    saved = ((p.saved_checkpointed + p.layer_saved) if ckpt else p.saved) * scale
    small = saved * p.saved_small / max(1, p.saved)
    tokens = rows * seq
    vocab_tiles = min(tokens, TOKEN_CHUNK) * min(p.vocab, VOCAB_CHUNK) * elem
    if mem.full_logits:
        head = 3 * tokens * p.vocab * 4
    else:
        head = CALIBRATION[f"head_tiles_{hw.device}"] * vocab_tiles + tokens * p.hidden * elem
    step = _step_peak(hw.device, saved, small, head, grads)
    activations = int(step - grads) + _autocast_copies(spec, hw.device, p)
    extra = _extra_models(spec, mem, hw, p)
    overhead = int(CALIBRATION["cuda_context"] if hw.device == "cuda" else CALIBRATION["cpu_process"])
    parts = {"weights": weights, "gradients": grads, "optimizer": opt, "activations": activations,
             "extra_models": extra, "method_extra": p.method_extra, "overhead": overhead}
    total = sum(parts.values())
    verdict = "unknown" if not hw.memory else (
        "fits" if total <= TIGHT_AT * hw.memory else "tight" if total <= hw.memory else "too_big")
    details = {"model": spec.model.name, "params": p.total_params, "trainable": p.trainable,
               "batch": batch, "sequences": mem.sequences_per_row, "seq_len": seq, "checkpointing": ckpt,
               "optimizer": optim, "deepspeed": zero, "devices": n, "device": hw.device,
               "flops_per_step": p.flops_step * scale * t.grad_accum, "probe": p}
    result = Estimate(parts, total, hw, verdict, [], details)
    _add_time(result, spec, plan, p, rows, ckpt)
    return result


def _autocast_copies(spec, device: str, p: Probe) -> int:
    """Mixed precision over fp32 weights: autocast casts every weight a matmul uses to 16 bits and the
    forward pass keeps those copies for backward (the probe runs in 16 bits, so it cannot see them).
    bench/memory.py: without this term LoRA on this CPU came out 9% low, QLoRA 21% low."""
    load, act = _dtypes(spec, device)
    if act == load or act.itemsize >= load.itemsize:
        return 0
    return p.total_params * act.itemsize


def _step_peak(device: str, saved: float, small: float, head: float, grads: int) -> float:
    """Peak of a training step: activations kept for backward, the loss head's tiles, the gradients.

    Gradients are allocated while the backward pass frees activations, so they only partly add up.
    """
    c = CALIBRATION
    if device == "cpu":
        garbage = max(0.0, c["cpu_heap_garbage"] * small - c["cpu_grad_reuse"] * grads)
        return max(saved + head, grads) + garbage
    live = c["cuda_allocator"] * (saved + head)
    return max(live, grads) + c["cuda_grad_overlap"] * min(live, grads)


def _extra_models(spec, mem, hw: Hardware, p: Probe) -> int:
    """Frozen reference/teacher/reward models and trained side models (a PPO value model)."""
    from . import methods

    total = 0
    if mem.reference and methods.REGISTRY.get(spec.method).artifact != "adapter":
        total += p.weights
    for name in mem.frozen_models:
        total += p.weights if not name or name == spec.model.name else _weights_of(name, hw)
    for name in mem.trained_models:
        size = p.weights if not name or name == spec.model.name else _weights_of(name, hw)
        total += size * 4  # weights, gradients and two Adam states
    return total


def _weights_of(name: str, hw: Hardware) -> int:
    try:
        cfg, _source = model_config(name)
    except StudioError:
        return 0
    return int(_shape_params({**REFERENCE_SHAPES["Qwen2.5-0.5B"], **cfg}) * (2 if hw.device == "cuda" else 4))


def _add_time(result: Estimate, spec, plan: dict, p: Probe, rows: int, ckpt: bool) -> None:
    hw = result.hardware
    if not hw.flops:
        return
    tokens = rows * plan["time_seq"]
    flops = (p.flops_step + (p.flops_forward if ckpt else 0)) * tokens / p.tokens
    gen = plan["memory"].generated_tokens
    if gen:  # decoding: one forward per new token, at a fraction of the matmul rate
        flops += 2 * p.total_params * rows * gen * 4
    rate = hw.flops * CALIBRATION[f"{hw.device}_efficiency"]
    result.seconds_per_step = flops * spec.training.grad_accum / rate
    result.steps = plan["steps"]
    result.details["time_how"] = (f"{flops / 1e9:.0f} GFLOP per micro-batch from the meta pass at "
                                  f"{rate / 1e9:.0f} GFLOP/s: {hw.flops_how} × "
                                  f"{CALIBRATION[f'{hw.device}_efficiency']} measured training efficiency")


def _suggestions(spec, hw: Hardware, cfg: dict, plan: dict, current: Estimate) -> list[Suggestion]:
    """Changes that lower the estimate, each with its new total, best first."""
    t = spec.training
    p = current.details["probe"]
    tried: list[tuple[str, dict, Estimate]] = []

    def attempt(key, values, **change):
        tried.append((key, values, _assemble(spec, hw, cfg, plan, probed=p, **change)))

    if not t.gradient_checkpointing:
        attempt("sug_checkpointing", {}, checkpointing=True)
    if t.batch_size > 1:
        half = max(1, t.batch_size // 2)
        attempt("sug_batch", {"value": half}, batch=half)
        if half > 1:
            attempt("sug_batch", {"value": 1}, batch=1)
    if plan["seq"] > 256 and t.max_length > 256:
        attempt("sug_length", {"value": max(256, t.max_length // 2)}, seq=min(plan["seq"], max(256, t.max_length // 2)))
    if "8bit" not in t.optimizer and current.parts["optimizer"] > 0.1 * current.total:
        attempt("sug_optimizer", {"value": "paged_adamw_8bit"}, optimizer="paged_adamw_8bit")
    if hw.device == "cuda" and hw.count > 1 and spec.resources.deepspeed != "zero3":
        attempt("sug_zero3", {}, deepspeed="zero3")
    tried += _quantised_alternatives(spec, hw, cfg, plan, current)
    out = [Suggestion(k, v, e.total, e.verdict == "fits") for k, v, e in tried if e.total < current.total]
    return sorted(out, key=lambda s: s.total)[:5]


def _quantised_alternatives(spec, hw, cfg, plan, current) -> list:
    """Methods of the registry that load the base quantised, when the current one does not."""
    from . import methods

    here = methods.REGISTRY.get(spec.method)
    if here.load_kwargs(spec.method_config(), hw.device).get("quantization_config") is not None:
        return []
    out = []
    for m in methods.REGISTRY:
        try:
            q = m.load_kwargs(m.config(), hw.device).get("quantization_config")
        except StudioError:
            continue
        if q is None:
            continue
        alt = spec.model_copy(update={"method": m.name, "method_args": m.config().model_dump()})
        try:
            e = _assemble(alt, hw, cfg, plan)
        except Exception:  # noqa: BLE001 - an alternative that cannot be probed is not suggested
            continue
        bits = 4 if getattr(q, "load_in_4bit", False) else 8
        out.append(("sug_quantised", {"name": m.name, "bits": bits}, e))
    return out


# ------------------------------------------------------------------------------------- preflight

def check(spec, workspace_root: Path | None = None, hardware: Hardware | None = None) -> list[str]:
    """Refuse a run that cannot fit (unless resources.ignore_memory_check); return warnings otherwise."""
    try:
        est = estimate(spec, workspace_root, hardware, quick=True)
    except StudioError as exc:
        return [f"memory estimate skipped: {exc.one_line()}"]
    if est.verdict == "too_big" and not spec.resources.ignore_memory_check:
        tips = "; ".join(s.text("en") for s in est.suggestions[:3]) or "use a smaller model"
        raise StudioError(f"This run needs about {human(est.total)} but {est.hardware.label} has "
                          f"{human(est.hardware.memory)}",
                          f"try: {tips} (or set resources.ignore_memory_check: true to start anyway)")
    if est.verdict in ("tight", "too_big"):
        return [est.headline("en")]
    return []
