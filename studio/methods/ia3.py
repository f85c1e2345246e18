"""IA³ (peft): learned vectors that rescale the keys, values and feed-forward activations."""

from __future__ import annotations

from pydantic import model_validator

from ..config import opt
from ..errors import StudioError
from .base import Method, MethodConfig
from .lora import targets


class IA3Options(MethodConfig):
    target_modules: str = opt("default", "Layers to rescale: default (keys, values, MLP down-projection for "
                                         "known models), all-linear, or names like k_proj,v_proj,down_proj",
                              "要缩放的层：default（已知模型为键、值和 MLP 下投影）、all-linear，或 k_proj,v_proj,down_proj 等名称")
    feedforward_modules: str = opt("default", "Which of them are feed-forward layers (their input is rescaled): "
                                              "default, or names like down_proj",
                                   "其中哪些是前馈层（缩放其输入）：default 或 down_proj 等名称", advanced=True)

    @model_validator(mode="after")
    def _together(self) -> "IA3Options":
        """peft needs the feed-forward layers among the targets: both named, or both left to its defaults."""
        if (self.target_modules == "default") != (self.feedforward_modules == "default"):
            raise ValueError("set target_modules and feedforward_modules together, or both to default "
                             "(e.g. k_proj,v_proj,down_proj and down_proj)")
        return self


def _names(text: str):
    return None if text.strip() == "default" else targets(text)


def wrap(model, cfg: IA3Options):
    from peft import IA3Config, get_peft_model

    from ..models.loading import peft_task_type

    try:
        config = IA3Config(target_modules=_names(cfg.target_modules),
                           feedforward_modules=_names(cfg.feedforward_modules),
                           task_type=peft_task_type(model))
        return get_peft_model(model, config)
    except ValueError as exc:
        raise StudioError(key="methods.ia3_cannot_adapt", model_class=type(model).__name__, exc=exc) from None


METHOD = Method(
    name="ia3",
    config=IA3Options,
    title={"en": "IA³ (rescaling vectors)", "zh": "IA³（激活缩放向量）"},
    summary={"en": "Learns one scaling vector for the keys, the values and the MLP activations of each layer; "
                   "even fewer parameters than LoRA.",
             "zh": "为每层的键、值和 MLP 激活各学习一个缩放向量；参数比 LoRA 还少。"},
    when_to_use={"en": "Few-shot adaptation with very little data or storage. Weaker than LoRA for teaching new "
                       "content; use a higher learning rate (around 1e-2 to 3e-3).",
                 "zh": "数据或存储极少时的小样本适配。教授新内容弱于 LoRA；请使用较高的学习率（约 3e-3 到 1e-2）。"},
    wrap=wrap,
    order=70,
)
