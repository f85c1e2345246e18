"""Prompt tuning (peft): a few trained "soft prompt" embeddings placed before every input."""

from __future__ import annotations

from typing import Literal

from ..config import opt
from ._prompts import common_rules, merge, peft_prompt_model
from .base import Method, MethodConfig

TITLE = "Prompt tuning"


class PromptTuningOptions(MethodConfig):
    virtual_tokens: int = opt(20, "Number of trained soft-prompt tokens", "可训练软提示 token 的数量", ge=1, le=512)
    init: Literal["random", "text"] = opt("text", "Start the soft prompt from random vectors or from the embeddings "
                                                  "of a text", "软提示的初始化：随机向量，或某段文本的词向量")
    init_text: str = opt("You are a helpful assistant. Answer the question.",
                         "Text whose token embeddings start the soft prompt (init: text)",
                         "用其词向量初始化软提示的文本（init 为 text 时）")


def wrap(model, cfg: PromptTuningOptions):
    from peft import PromptTuningConfig

    text = cfg.init == "text"
    config = PromptTuningConfig(num_virtual_tokens=cfg.virtual_tokens,
                                prompt_tuning_init="TEXT" if text else "RANDOM",
                                prompt_tuning_init_text=cfg.init_text if text else None,
                                tokenizer_name_or_path=model.name_or_path if text else None)
    return peft_prompt_model(model, config, TITLE)


def meta_config(cfg: PromptTuningOptions) -> PromptTuningOptions:
    """Text initialisation reads real embeddings; the count does not depend on it."""
    return cfg.model_copy(update={"init": "random"})


METHOD = Method(
    name="prompt_tuning",
    config=PromptTuningOptions,
    title={"en": "Prompt tuning (soft prompt)", "zh": "提示微调（软提示）"},
    summary={"en": "Learns a few embedding vectors that are put in front of every input; the model itself "
                   "is untouched.",
             "zh": "学习若干放在每条输入前面的嵌入向量，模型本身不变。"},
    when_to_use={"en": "Tiny artifacts for simple tasks (classification, format) on larger models; weak on "
                       "small models and for new knowledge. Needs a high learning rate (around 1e-2 to 3e-1).",
                 "zh": "在较大模型上以极小的产物完成简单任务（分类、格式）；在小模型上、学习新知识时效果较弱。"
                       "需要较高的学习率（约 1e-2 到 3e-1）。"},
    wrap=wrap,
    validate=lambda spec: common_rules(spec, TITLE),
    merge=merge,
    meta_config=meta_config,
    order=100,
)
