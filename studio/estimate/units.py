"""Numbers and words shared by the estimate: sizes, calibration constants, the texts it prints."""

from __future__ import annotations

import re

from ..errors import StudioError

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
    # the same against a bf16 matmul probe, on a CPU that computes bf16 natively (the cpu-lora-sft
    # default): small LoRA steps reach a smaller share of AMX's peak than of the fp32 rate. Measured on
    # a quiet machine, 2026-11-30: the recipe's 53 steps on the identity sample took 118 s where the
    # probe at 0.6 promised 35-40 s (tests/test_recipe_slow.py prints both)
    "cpu_bf16_efficiency": 0.19,
    "cuda_efficiency": 0.40,
}
# how full memory may be before the verdict becomes "tight" (a warning) and "too big" (a refusal)
TIGHT_AT = 0.85
# trl.kernels.chunked_logprob tile sizes (tokens x vocab columns)
TOKEN_CHUNK = 4096
VOCAB_CHUNK = 32768

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8, "int8": 1, "uint8": 1}

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
        raise StudioError(key="spec.not_a_size", value=value)
    power = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[m.group(2).lower()]
    return int(float(m.group(1)) * 1024 ** power)

