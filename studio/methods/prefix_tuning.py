"""Prefix tuning (peft): trained key/value vectors prepended in every attention layer.

As in Li & Liang (2021), the prefix is produced during training by an MLP from a smaller embedding
(`prefix_projection`), which trains more stably; at save time peft stores the resulting key/value
vectors, so the MLP costs nothing at inference. `p_tuning_v2` is the same peft mechanism without
the MLP by default (see that module).
"""

from __future__ import annotations

from ..config import opt
from ._prompts import merge, peft_prompt_model, prefix_rules
from .base import Method, MethodConfig

TITLE = "Prefix tuning"


class PrefixOptions(MethodConfig):
    virtual_tokens: int = opt(20, "Prefix length (virtual tokens in every layer)", "前缀长度（每层的虚拟 token 数）",
                              ge=1, le=512)
    projection: bool = opt(True, "Produce the prefix with a trained MLP (reparameterisation) while training",
                           "训练时用可训练的 MLP 生成前缀（重参数化）")
    encoder_hidden_size: int = opt(256, "Hidden width of that MLP", "该 MLP 的隐藏层宽度", ge=1, le=16384,
                                   advanced=True)


def prefix_model(model, cfg: PrefixOptions, title: str):
    from peft import PrefixTuningConfig

    config = PrefixTuningConfig(num_virtual_tokens=cfg.virtual_tokens,
                                prefix_projection=cfg.projection, encoder_hidden_size=cfg.encoder_hidden_size)
    return peft_prompt_model(model, config, title)


METHOD = Method(
    name="prefix_tuning",
    config=PrefixOptions,
    title={"en": "Prefix tuning", "zh": "前缀微调（Prefix Tuning）"},
    summary={"en": "Learns key/value vectors that every attention layer sees before the input (a prefix in "
                   "each layer), produced by a small MLP while training.",
             "zh": "学习每个注意力层在输入之前看到的键/值向量（每层一个前缀），训练时由一个小 MLP 生成。"},
    when_to_use={"en": "Generation tasks with a frozen model and small artifacts; stronger than prompt tuning. "
                       "Needs decoder models with a key/value cache in every layer.",
                 "zh": "冻结模型、产物较小的生成任务；比提示微调更强。要求模型每层都有键/值缓存。"},
    wrap=lambda model, cfg: prefix_model(model, cfg, TITLE),
    validate=lambda spec: prefix_rules(spec, TITLE),
    merge=merge,
    order=120,
)
