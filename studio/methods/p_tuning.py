"""P-Tuning (peft `PromptEncoder`): soft-prompt embeddings produced by a small trained MLP or LSTM."""

from __future__ import annotations

from typing import Literal

from ..config import opt
from ._prompts import common_rules, merge, peft_prompt_model
from .base import Method, MethodConfig

TITLE = "P-Tuning"


class PTuningOptions(MethodConfig):
    virtual_tokens: int = opt(20, "Number of virtual tokens", "虚拟 token 的数量", ge=1, le=512)
    encoder: Literal["MLP", "LSTM"] = opt("MLP", "Network that produces the virtual tokens",
                                          "生成虚拟 token 的网络")
    encoder_hidden_size: int = opt(128, "Hidden width of that network", "该网络的隐藏层宽度", ge=1, le=16384)
    encoder_dropout: float = opt(0.0, "Dropout inside that network", "该网络内部的 dropout", ge=0, lt=1,
                                 advanced=True)


def wrap(model, cfg: PTuningOptions):
    from peft import PromptEncoderConfig

    config = PromptEncoderConfig(num_virtual_tokens=cfg.virtual_tokens,
                                 encoder_reparameterization_type=cfg.encoder,
                                 encoder_hidden_size=cfg.encoder_hidden_size, encoder_dropout=cfg.encoder_dropout)
    return peft_prompt_model(model, config, TITLE)


METHOD = Method(
    name="p_tuning",
    config=PTuningOptions,
    title={"en": "P-Tuning", "zh": "P-Tuning"},
    summary={"en": "Like prompt tuning, but the virtual tokens come from a small trained network, which "
                   "trains more stably.",
             "zh": "与提示微调类似，但虚拟 token 由一个小型可训练网络生成，训练更稳定。"},
    when_to_use={"en": "Natural-language-understanding style tasks with a frozen model and tiny artifacts; "
                       "for generation quality prefer LoRA or P-Tuning v2.",
                 "zh": "冻结模型、产物极小的理解类任务；若看重生成质量，请选 LoRA 或 P-Tuning v2。"},
    wrap=wrap,
    validate=lambda spec: common_rules(spec, TITLE),
    merge=merge,
    order=110,
)
