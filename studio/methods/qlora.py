"""QLoRA: LoRA on a base model quantised by bitsandbytes (4-bit NF4/FP4 or 8-bit)."""

from __future__ import annotations

from typing import Literal

from ..config import opt
from ..errors import StudioError
from .base import Method
from .lora import LoraOptions, lora_config, meta_config


class QLoraOptions(LoraOptions):
    bits: Literal[4, 8] = opt(4, "Bits per base weight", "基座权重的位数")
    quant_type: Literal["nf4", "fp4"] = opt("nf4", "4-bit data type (NF4 suits normally distributed weights)",
                                            "4 位数据类型（NF4 适合正态分布的权重）")
    double_quant: bool = opt(True, "Quantise the quantisation constants too (saves ~0.4 bit/weight)",
                             "对量化常数再量化（每个权重约省 0.4 位）")
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = opt(
        "auto", "Precision of the matmuls (auto: bf16 on GPU, fp32 on CPU)", "计算精度（auto：GPU 用 bf16，CPU 用 fp32）",
        advanced=True)


def load_kwargs(cfg: QLoraOptions, device: str) -> dict:
    import torch
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise StudioError(key="methods.qlora_needs_bitsandbytes_package") from None
    if cfg.compute_dtype == "auto":
        compute = torch.bfloat16 if device == "cuda" else torch.float32
    else:
        compute = getattr(torch, cfg.compute_dtype)
    if cfg.bits == 8:
        q = BitsAndBytesConfig(load_in_8bit=True)
    else:
        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=cfg.quant_type,
                               bnb_4bit_use_double_quant=cfg.double_quant, bnb_4bit_compute_dtype=compute)
    return {"quantization_config": q}


def wrap(model, cfg: QLoraOptions):
    from peft import get_peft_model, prepare_model_for_kbit_training

    from ..models.loading import peft_task_type

    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    config = lora_config(cfg)
    config.task_type = peft_task_type(model)  # SEQ_CLS for a reward model: peft then trains its score head
    return get_peft_model(model, config)


def validate(spec) -> None:
    if spec.method_args.get("init") in ("pissa", "olora"):
        raise StudioError(key="methods.qlora_cannot_start_from")
    if spec.method_args.get("bits") == 8 and spec.method_args.get("quant_type") == "fp4":
        raise StudioError(key="methods.method_args_quant_type")


METHOD = Method(
    name="qlora",
    config=QLoraOptions,
    title={"en": "QLoRA (quantised LoRA)", "zh": "QLoRA（量化 LoRA）"},
    summary={"en": "LoRA on a base model stored in 4 or 8 bits: about a quarter of the weight memory.",
             "zh": "在 4 位或 8 位存储的基座模型上做 LoRA：权重显存约为四分之一。"},
    when_to_use={"en": "When the model does not fit in memory with LoRA, e.g. a 7B model on a 24 GB GPU.",
                 "zh": "当 LoRA 放不下模型时，例如在 24 GB 显卡上微调 7B 模型。"},
    wrap=wrap,
    load_kwargs=load_kwargs,
    validate=validate,
    meta_config=meta_config,
    order=20,
)
