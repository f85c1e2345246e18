"""DoRA: weight-decomposed LoRA (peft `use_dora`): a trained magnitude per output plus a LoRA direction."""

from __future__ import annotations

from ..errors import StudioError
from .base import Method
from .lora import LoraOptions, lora_config, meta_config, peft_wrap, save


def wrap(model, cfg: LoraOptions):
    return peft_wrap(model, cfg, lora_config(cfg, use_dora=True))


def validate(spec) -> None:
    if spec.method_args.get("init") in ("pissa", "olora"):
        raise StudioError(key="methods.dora_cannot_start_from")


METHOD = Method(
    name="dora",
    config=LoraOptions,
    title={"en": "DoRA (weight-decomposed LoRA)", "zh": "DoRA（权重分解 LoRA）"},
    summary={"en": "Splits each weight into a magnitude and a direction; trains the magnitude directly and "
                   "the direction with LoRA.",
             "zh": "把每个权重分解为幅度和方向：幅度直接训练，方向用 LoRA 训练。"},
    when_to_use={"en": "Often closer to full fine-tuning quality than LoRA at the same rank, especially at low "
                       "ranks; each step is slower (about 1.5-2x).",
                 "zh": "在相同秩下往往比 LoRA 更接近全量微调的效果，低秩时尤其明显；每步更慢（约 1.5–2 倍）。"},
    wrap=wrap,
    validate=validate,
    save=save,
    meta_config=meta_config,
    order=30,
)
