"""Bottleneck adapters in the Houlsby style, written here because no installed library has them for Llama.

(peft's `adaption_prompt` is LLaMA-Adapter, a gated prompt, not a bottleneck adapter.) Each adapter is
down-projection -> activation -> up-projection with a residual connection, applied to the output of
the attention block and of the MLP block of every transformer layer, before the block's own residual
add - where Houlsby et al. (2019) place them. The up-projection starts at zero, so training starts
from the unchanged model.
"""

from __future__ import annotations

from typing import Literal

from ..config import opt
from ..errors import StudioError
from ._tuned import add_output_hook, cannot_merge, decoder_layers, freeze, load_tuned, remember, save_tuned
from .base import Method, MethodConfig

SIDE = "studio_adapter"
ATTENTION = ("self_attn", "attn", "attention", "self_attention")
MLP = ("mlp", "feed_forward", "ffn")


class AdapterOptions(MethodConfig):
    bottleneck: int = opt(64, "Width of the adapter bottleneck (capacity)", "适配器瓶颈宽度（容量）", ge=1, le=8192)
    placement: Literal["both", "attention", "mlp"] = opt(
        "both", "Where to insert adapters: after attention and MLP (Houlsby), or only one of them",
        "插入位置：注意力与 MLP 之后（Houlsby），或只在其中之一")
    activation: Literal["gelu", "relu", "silu"] = opt("gelu", "Non-linearity inside the adapter",
                                                      "适配器内部的激活函数", advanced=True)
    train_norms: bool = opt(False, "Also train the layer norms (as in the Houlsby paper)",
                            "同时训练层归一化参数（与 Houlsby 论文一致）", advanced=True)


def bottleneck(hidden: int, width: int, activation: str, like):
    import torch
    import torch.nn as nn

    act = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU}[activation]()
    down = nn.Linear(hidden, width)
    up = nn.Linear(width, hidden)
    nn.init.zeros_(up.weight)
    nn.init.zeros_(up.bias)
    # adapters train in fp32 even on a bf16 base (small tensors, stable updates)
    return nn.Sequential(down, act, up).to(device=like.device, dtype=torch.float32)


def _child(layer, names: tuple[str, ...]):
    for name in names:
        if hasattr(layer, name):
            return getattr(layer, name)
    raise StudioError(key="methods.no_block_put_adapter", model_class=type(layer).__name__, names=names[0])


def wrap(model, cfg: AdapterOptions):
    freeze(model)
    _prefix, layers = decoder_layers(model)
    hidden = model.config.hidden_size
    like = next(model.parameters())
    blocks = {"both": (ATTENTION, MLP), "attention": (ATTENTION,), "mlp": (MLP,)}[cfg.placement]
    for layer in layers:
        for names in blocks:
            add_output_hook(_child(layer, names), SIDE, bottleneck(hidden, cfg.bottleneck, cfg.activation, like),
                            use_input=False)
        if cfg.train_norms:
            for name, p in layer.named_parameters():
                if "norm" in name:
                    p.requires_grad_(True)
    return remember(model, "adapter", cfg)


METHOD = Method(
    name="adapter",
    config=AdapterOptions,
    title={"en": "Bottleneck adapter (Houlsby)", "zh": "瓶颈适配器（Houlsby）"},
    summary={"en": "Inserts small bottleneck networks after the attention and MLP blocks of every layer; "
                   "only they are trained.",
             "zh": "在每层的注意力和 MLP 模块之后插入小型瓶颈网络，只训练这些网络。"},
    when_to_use={"en": "A classic alternative to LoRA with a similar budget. It adds a little latency at "
                       "inference and cannot be merged into the weights.",
                 "zh": "与 LoRA 预算相近的经典替代方案；推理时略增延迟，且无法合并进权重。"},
    wrap=wrap,
    save=save_tuned,
    load=load_tuned,
    merge=cannot_merge("a bottleneck adapter is a non-linear extra block, not a weight change"),
    order=130,
)
