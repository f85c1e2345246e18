"""Mixture of LoRA experts: several LoRA experts per linear layer and a learned per-token router.

peft's mixtures do not fit a from-scratch run: X-LoRA only learns to mix LoRAs trained beforehand,
and Poly routes by a task id per example. Here, for each targeted linear layer W:
    y = W x + (alpha / r) * sum_e g_e(x) * B_e A_e x,     g(x) = softmax(router(x)) (optionally top-k)
The experts' A matrices are stacked into one (E*r x in) projection and the B matrices into one
(out x E*r), so all experts run in two matmuls. B starts at zero: training starts from the base.
"""

from __future__ import annotations

import math
from functools import cache

from ..config import opt
from ..errors import StudioError
from ._tuned import add_output_hook, cannot_merge, freeze, linear_modules, load_tuned, remember, save_tuned
from .base import Method, MethodConfig

SIDE = "studio_moe"


class MoeLoraOptions(MethodConfig):
    experts: int = opt(4, "Number of LoRA experts per layer", "每层的 LoRA 专家数", ge=2, le=64)
    r: int = opt(8, "Rank of each expert", "每个专家的秩", ge=1, le=512)
    alpha: int = opt(16, "Scaling numerator (alpha / r scales the update)", "缩放系数（alpha / r）", ge=1)
    top_k: int = opt(0, "Experts used per token (0: all, weighted by the router)",
                     "每个 token 使用的专家数（0 表示全部，按路由权重加权）", ge=0, le=64)
    target_modules: str = opt("all-linear", "Layers to adapt: all-linear, or names like q_proj,v_proj",
                              "要适配的层：all-linear 或 q_proj,v_proj 等名称")
    dropout: float = opt(0.0, "Dropout on the expert input", "专家输入的 dropout", ge=0, lt=1, advanced=True)


@cache
def experts_class():
    """The side module class, built on first use so that importing this file does not import torch."""
    import torch
    import torch.nn as nn

    class LoraExperts(nn.Module):
        """E LoRA experts + a token router for one linear layer."""

        def __init__(self, in_features: int, out_features: int, experts: int, r: int, alpha: int, top_k: int,
                     dropout: float):
            super().__init__()
            self.experts, self.r, self.top_k, self.scale = experts, r, top_k, alpha / r
            self.router = nn.Linear(in_features, experts, bias=False)
            self.lora_A = nn.Linear(in_features, experts * r, bias=False)
            self.lora_B = nn.Linear(experts * r, out_features, bias=False)
            self.dropout = nn.Dropout(dropout)
            nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B.weight)
            nn.init.normal_(self.router.weight, std=0.02)

        def gates(self, x):
            g = torch.softmax(self.router(x), dim=-1)
            if 0 < self.top_k < self.experts:
                top, idx = g.topk(self.top_k, dim=-1)
                g = torch.zeros_like(g).scatter(-1, idx, top / top.sum(-1, keepdim=True))
            return g

        def forward(self, x):
            h = self.lora_A(self.dropout(x)).unflatten(-1, (self.experts, self.r))
            h = h * self.gates(x).unsqueeze(-1)
            return self.lora_B(h.flatten(-2)) * self.scale

    return LoraExperts


def wrap(model, cfg: MoeLoraOptions):
    import torch

    if cfg.top_k > cfg.experts:
        raise StudioError(key="methods.method_args_top_k", top_k=cfg.top_k, experts=cfg.experts)
    freeze(model)
    for lin in linear_modules(model, cfg.target_modules).values():
        side = experts_class()(lin.in_features, lin.out_features, cfg.experts, cfg.r, cfg.alpha, cfg.top_k,
                               cfg.dropout)
        add_output_hook(lin, SIDE, side.to(device=lin.weight.device, dtype=torch.float32), use_input=True)
    return remember(model, "moe_lora", cfg)


def validate(spec) -> None:
    args = spec.method_args
    if args.get("top_k", 0) > args.get("experts", 4):
        raise StudioError(key="methods.method_args_top_k", top_k=args['top_k'], experts=args.get('experts', 4))


METHOD = Method(
    name="moe_lora",
    config=MoeLoraOptions,
    title={"en": "Mixture of LoRA experts", "zh": "LoRA 混合专家（MoE-LoRA）"},
    summary={"en": "Several LoRA experts per layer and a small router that decides, token by token, "
                   "how much each expert contributes.",
             "zh": "每层有多个 LoRA 专家，由一个小型路由器逐个 token 决定各专家的贡献。"},
    when_to_use={"en": "Mixed data with distinct skills (e.g. code + chat + maths) where one LoRA underfits. "
                       "Costs experts x LoRA parameters; the router makes it unmergeable.",
                 "zh": "数据混合了多种技能（如代码 + 对话 + 数学）、单个 LoRA 欠拟合时使用。参数量为专家数 × LoRA；"
                       "由于有路由器，无法合并进权重。"},
    wrap=wrap,
    validate=validate,
    save=save_tuned,
    load=load_tuned,
    merge=cannot_merge("the router mixes experts per token, so there is no single weight change"),
    order=180,
)
