"""LoRA: low-rank adapters on the linear layers (peft), with rsLoRA and PiSSA / OLoRA initialisation.

PiSSA and OLoRA start the adapter from the principal directions of each weight and subtract that part
from the base weight, so the trained adapter only makes sense on that modified base. `save` therefore
converts it (peft's `path_initial_model_for_weight_conversion`) into a plain LoRA of rank 2r that
applies to the original base: the artifact loads and merges like any LoRA. The initial adapter needed
for that is kept in memory from `wrap`, and the randomised SVD runs under a fixed seed so that a
resumed run rebuilds exactly the same residual base before loading the checkpoint's adapter.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from ..config import opt
from .base import Method, MethodConfig

INITIAL = "studio_initial_adapter"


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
    return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                      target_modules=targets(cfg.target_modules), use_rslora=cfg.rslora, init_lora_weights=init,
                      bias="none", task_type="CAUSAL_LM", **extra)


def peft_wrap(model, cfg: LoraOptions, peft_config):
    """get_peft_model, remembering the initial adapter when the init rewrites the base weights."""
    import torch
    from peft import get_peft_model
    from peft.utils import get_peft_model_state_dict

    from ..models.loading import peft_task_type

    peft_config.task_type = peft_task_type(model)  # SEQ_CLS for a reward model: peft then trains its score head
    if cfg.init not in ("pissa", "olora"):
        return get_peft_model(model, peft_config)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        wrapped = get_peft_model(model, peft_config)
    wrapped.__dict__[INITIAL] = {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(wrapped).items()}
    return wrapped


def wrap(model, cfg: LoraOptions):
    return peft_wrap(model, cfg, lora_config(cfg))


def save(model, folder: Path) -> None:
    """Save the adapter; a PiSSA/OLoRA one is converted to a plain LoRA for the original base."""
    from safetensors.torch import save_file

    initial = model.__dict__.get(INITIAL)
    if initial is None:
        model.save_pretrained(folder, safe_serialization=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = Path(tmp) / "initial"
        start.mkdir()
        save_file(initial, str(start / "adapter_model.safetensors"), metadata={"format": "pt"})
        model.save_pretrained(folder, safe_serialization=True, path_initial_model_for_weight_conversion=str(start))


def meta_config(cfg: LoraOptions) -> LoraOptions:
    """SVD/QR inits cannot run on meta tensors; the parameter count does not depend on the init."""
    return cfg.model_copy(update={"init": "default"})


METHOD = Method(
    name="lora",
    config=LoraOptions,
    title={"en": "LoRA", "zh": "LoRA 低秩适配"},
    summary={"en": "Trains small low-rank matrices beside the frozen weights; the base model is untouched.",
             "zh": "在冻结的权重旁训练小的低秩矩阵，基座模型保持不变。"},
    when_to_use={"en": "The default: good quality at a fraction of the memory of full fine-tuning.",
                 "zh": "默认选择：以全量微调一小部分的显存获得良好效果。"},
    wrap=wrap,
    save=save,
    meta_config=meta_config,
    order=10,
)
