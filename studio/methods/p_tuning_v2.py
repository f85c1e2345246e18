"""P-Tuning v2 (deep prompt tuning), implemented with peft's prefix tuning.

P-Tuning v2 (Liu et al., 2022) puts trained continuous prompts in every layer rather than only at
the input. In peft that is `PrefixTuningConfig`: per-layer key/value prompts. The difference from
`prefix_tuning` here is the default: P-Tuning v2 trains the per-layer prompts directly (no MLP
reparameterisation, `projection: false`), which the paper found works as well or better for most
tasks; turning `projection` on gives exactly prefix tuning.
"""

from __future__ import annotations

from ..config import opt
from ._prompts import merge, prefix_rules
from .base import Method
from .prefix_tuning import PrefixOptions, prefix_model

TITLE = "P-Tuning v2"


class PTuningV2Options(PrefixOptions):
    projection: bool = opt(False, "Reparameterise the prompts with an MLP while training (off in P-Tuning v2)",
                           "训练时用 MLP 重参数化提示（P-Tuning v2 默认关闭）")


METHOD = Method(
    name="p_tuning_v2",
    config=PTuningV2Options,
    title={"en": "P-Tuning v2 (deep prompts)", "zh": "P-Tuning v2（深度提示）"},
    summary={"en": "Trained prompt vectors in every layer of the model (deep prompt tuning), not only at the "
                   "input.",
             "zh": "在模型的每一层（而不只是输入层）放置可训练的提示向量（深度提示微调）。"},
    when_to_use={"en": "When prompt tuning is too weak but the model must stay frozen with a small artifact; "
                       "close to LoRA on understanding tasks.",
                 "zh": "提示微调太弱、但模型必须保持冻结且产物要小时使用；在理解类任务上接近 LoRA。"},
    wrap=lambda model, cfg: prefix_model(model, cfg, TITLE),
    validate=lambda spec: prefix_rules(spec, TITLE),
    merge=merge,
    order=125,
)
