"""LoRA: low-rank adapters on the linear layers (peft), with rsLoRA and PiSSA / OLoRA initialisation."""

from __future__ import annotations

from typing import Literal

from ..config import opt
from .base import Method, MethodConfig


class LoraOptions(MethodConfig):
    r: int = opt(16, "Rank of the adapter matrices (capacity)", "适配器矩阵的秩（容量）", ge=1, le=1024)
    alpha: int = opt(32, "Scaling numerator (alpha / r scales the update)", "缩放系数（alpha / r）", ge=1)
    dropout: float = opt(0.0, "Dropout on the adapter input", "适配器输入的 dropout", ge=0, lt=1)
    target_modules: str = opt("all-linear", "Layers to adapt: all-linear, or names like q_proj,v_proj",
                              "要适配的层：all-linear 或 q_proj,v_proj 等名称")
    rslora: bool = opt(False, "Rank-stabilised scaling (alpha / sqrt(r)); helps at high ranks",
                       "秩稳定缩放（alpha / sqrt(r)），高秩时更稳", advanced=True)
    init: Literal["default", "gaussian", "pissa", "olora"] = opt(
        "default", "Initialisation: default (B=0), gaussian, PiSSA or OLoRA (start from principal directions)",
        "初始化：默认（B=0）、高斯、PiSSA 或 OLoRA（从主成分方向开始）", advanced=True)


def targets(text: str):
    text = (text or "all-linear").strip()
    return text if text == "all-linear" else [t.strip() for t in text.split(",") if t.strip()]


def lora_config(cfg: LoraOptions, **extra):
    from peft import LoraConfig

    init = {"default": True, "gaussian": "gaussian", "pissa": "pissa_niter_4", "olora": "olora"}[cfg.init]
    return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets(cfg.target_modules),
                      use_rslora=cfg.rslora, init_lora_weights=init, bias="none", task_type="CAUSAL_LM", **extra)


def wrap(model, cfg: LoraOptions):
    from peft import get_peft_model

    return get_peft_model(model, lora_config(cfg))


METHOD = Method(
    name="lora",
    config=LoraOptions,
    title={"en": "LoRA", "zh": "LoRA 低秩适配"},
    summary={"en": "Trains small low-rank matrices beside the frozen weights; the base model is untouched.",
             "zh": "在冻结的权重旁训练小的低秩矩阵，基座模型保持不变。"},
    when_to_use={"en": "The default: good quality at a fraction of the memory of full fine-tuning.",
                 "zh": "默认选择：以全量微调一小部分的显存获得良好效果。"},
    wrap=wrap,
    order=10,
)
