"""LoRA+: LoRA with a larger learning rate for the B matrices (peft's `create_loraplus_optimizer`).

The adapter is an ordinary LoRA; only the optimizer differs, so `before_train` hands the trainer a
param-group optimizer built from the trainer's own optimizer choice (AdamW, paged AdamW, ...).
"""

from __future__ import annotations

from pathlib import Path

from ..config import opt
from .base import Method
from .lora import LoraOptions, meta_config, save, wrap


class LoraPlusOptions(LoraOptions):
    lr_ratio: float = opt(16.0, "Learning rate of B divided by that of A (the LoRA+ paper suggests 16)",
                          "B 矩阵学习率与 A 矩阵学习率之比（LoRA+ 论文建议 16）", ge=1, le=1024)


def set_optimizer(trainer, cfg: LoraPlusOptions, _run_dir: Path) -> None:
    from peft.optimizers import create_loraplus_optimizer

    args = trainer.args
    optimizer_cls, kwargs = trainer.get_optimizer_cls_and_kwargs(args, trainer.model)
    kwargs.pop("lr", None)
    trainer.optimizer = create_loraplus_optimizer(trainer.model, optimizer_cls, lr=args.learning_rate,
                                                  loraplus_lr_ratio=cfg.lr_ratio,
                                                  loraplus_weight_decay=args.weight_decay, **kwargs)


METHOD = Method(
    name="loraplus",
    config=LoraPlusOptions,
    title={"en": "LoRA+", "zh": "LoRA+"},
    summary={"en": "LoRA where the B matrices learn faster than the A matrices (a separate learning rate).",
             "zh": "B 矩阵比 A 矩阵学得更快（单独的学习率）的 LoRA。"},
    when_to_use={"en": "Same cost as LoRA, often faster convergence; try it when LoRA learns slowly. "
                       "Lower the base learning rate a little.",
                 "zh": "成本与 LoRA 相同，收敛往往更快；LoRA 学得慢时可尝试，并适当调低基础学习率。"},
    wrap=wrap,
    before_train=set_optimizer,
    save=save,
    meta_config=meta_config,
    order=40,
)
