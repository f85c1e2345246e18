"""BitFit: train only the bias terms.

Llama-family models have no biases at all, so plain BitFit would train nothing there. With
`add_missing_biases` (the default) every targeted linear layer without a bias gets a zero-initialised
trainable one: the model starts out unchanged and learns one offset per output feature. peft's BEFT
does the same as an adapter, but cannot merge into a layer without a bias; here the biases become
real `nn.Linear.bias` tensors, and `merge` switches on the model config's bias flags
(`attention_bias`, `mlp_bias`) so the merged model saves and reloads as a plain transformers model.
"""

from __future__ import annotations

import copy

from ..config import opt
from ..errors import StudioError
from ._tuned import freeze, linear_modules, load_tuned, remember, save_tuned
from .base import Method, MethodConfig


class BitFitOptions(MethodConfig):
    add_missing_biases: bool = opt(
        True, "Give linear layers without a bias a zero-initialised one (Llama has none); "
              "off: train only existing biases",
        "为没有偏置的线性层添加零初始化的偏置（Llama 没有偏置）；关闭则只训练已有的偏置")
    target_modules: str = opt("all-linear", "Linear layers that get biases: all-linear, or names like q_proj,v_proj",
                              "添加偏置的线性层：all-linear 或 q_proj,v_proj 等名称", advanced=True)


def wrap(model, cfg: BitFitOptions):
    import torch
    import torch.nn as nn

    freeze(model)
    if cfg.add_missing_biases:
        for lin in linear_modules(model, cfg.target_modules).values():
            if lin.bias is None:
                w = lin.weight
                lin.bias = nn.Parameter(torch.zeros(lin.out_features, dtype=w.dtype, device=w.device))
    biases = [p for n, p in model.named_parameters() if n.endswith(".bias")]
    if not biases:
        raise StudioError(key="methods.no_bias_terms_bitfit", model_class=type(model).__name__)
    for p in biases:
        p.requires_grad_(True)
    return remember(model, "bitfit", cfg)


def _has_bias(model) -> set[str]:
    import torch.nn as nn

    return {n for n, m in model.named_modules() if isinstance(m, nn.Linear) and m.bias is not None}


def merge(model):
    """Biases are real tensors already; only the config must say where they are so that it reloads.

    Tries the config's boolean `*_bias` flags (Llama: attention_bias, mlp_bias) until a model built
    from the config has biases exactly where this one has them.
    """
    import itertools

    import torch
    from transformers import AutoModelForCausalLM

    have = _has_bias(model)
    flags = [k for k, v in model.config.to_dict().items() if k.endswith("_bias") and isinstance(v, bool)]
    for n in range(len(flags) + 1):
        for chosen in itertools.combinations(flags, n):
            config = copy.deepcopy(model.config)
            for flag in flags:
                setattr(config, flag, flag in chosen or getattr(model.config, flag))
            with torch.device("meta"):
                if _has_bias(AutoModelForCausalLM.from_config(config)) == have:
                    model.config = config
                    return model
    raise StudioError(key="methods.models_cannot_describe_added", model_type=model.config.model_type)


METHOD = Method(
    name="bitfit",
    config=BitFitOptions,
    title={"en": "BitFit (biases only)", "zh": "BitFit（仅训练偏置）"},
    summary={"en": "Trains only bias vectors (one number per output feature); every weight matrix stays frozen. "
                   "Models without biases, like Llama, get zero-initialised ones.",
             "zh": "只训练偏置向量（每个输出特征一个数），所有权重矩阵保持冻结。"
                   "对于 Llama 这类没有偏置的模型，会添加零初始化的偏置。"},
    when_to_use={"en": "The smallest possible change: light style or format tweaks with very little data. "
                       "Too weak to teach new knowledge.",
                 "zh": "改动最小的方案：数据很少时做轻度的风格或格式调整；不足以教会新知识。"},
    wrap=wrap,
    save=save_tuned,
    load=load_tuned,
    trains_base=True,
    merge=merge,
    order=140,
)
