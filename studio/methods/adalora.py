"""AdaLoRA (peft): LoRA in SVD form whose rank budget is reallocated during training.

AdaLoRA must know the run length and must be told after every optimizer step to update its
importance scores and prune singular values. `wrap` does not know the step count, so `before_train`
writes the real schedule into the adapter config and adds a callback that calls
`update_and_allocate` after each optimizer step (before the gradients are cleared).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..config import opt
from ..errors import StudioError
from .base import Method, MethodConfig
from .lora import targets


class AdaLoraOptions(MethodConfig):
    init_r: int = opt(12, "Starting rank of every adapted layer", "每个适配层的初始秩", ge=1, le=1024)
    target_r: int = opt(8, "Average rank kept after pruning", "剪枝后保留的平均秩", ge=1, le=1024)
    alpha: int = opt(32, "Scaling numerator (alpha / r scales the update)", "缩放系数（alpha / r）", ge=1)
    dropout: float = opt(0.0, "Dropout on the adapter input", "适配器输入的 dropout", ge=0, lt=1)
    target_modules: str = opt("all-linear", "Layers to adapt: all-linear, or names like q_proj,v_proj",
                              "要适配的层：all-linear 或 q_proj,v_proj 等名称")
    warmup_fraction: float = opt(0.1, "Share of the steps trained before any pruning",
                                 "开始剪枝前的训练步数比例", ge=0, lt=1, advanced=True)
    final_fraction: float = opt(0.2, "Share of the steps trained after the ranks are fixed",
                                "秩固定后继续训练的步数比例", ge=0, lt=1, advanced=True)
    delta_t: int = opt(1, "Steps between two budget reallocations", "两次预算重新分配之间的步数", ge=1,
                       advanced=True)
    orth_reg_weight: float = opt(0.5, "Weight of the orthogonality regulariser", "正交正则项的权重", ge=0,
                                 advanced=True)


def adalora_config(cfg: AdaLoraOptions, task_type: str = "CAUSAL_LM", total_step: int = 1000):
    from peft import AdaLoraConfig

    return AdaLoraConfig(init_r=cfg.init_r, target_r=cfg.target_r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                         target_modules=targets(cfg.target_modules), total_step=total_step, tinit=0, tfinal=0,
                         deltaT=cfg.delta_t, orth_reg_weight=cfg.orth_reg_weight, task_type=task_type)


def wrap(model, cfg: AdaLoraOptions):
    from peft import get_peft_model

    from ..models.loading import peft_task_type

    # total_step is a placeholder here: `schedule` writes the real one once the trainer knows it
    return get_peft_model(model, adalora_config(cfg, peft_task_type(model)))


def total_steps(trainer) -> int:
    args = trainer.args
    if args.max_steps and args.max_steps > 0:
        return args.max_steps
    per_epoch = math.ceil(len(trainer.get_train_dataloader()) / args.gradient_accumulation_steps)
    return max(1, math.ceil(per_epoch * args.num_train_epochs))


def schedule(trainer, cfg: AdaLoraOptions, _run_dir: Path) -> None:
    from transformers import TrainerCallback

    steps = total_steps(trainer)
    config = trainer.model.peft_config["default"]
    tinit, tfinal = int(steps * cfg.warmup_fraction), int(steps * cfg.final_fraction)
    if tinit >= steps - tfinal:
        tinit, tfinal = 0, 0
    config.total_step, config.tinit, config.tfinal = steps, tinit, tfinal

    class Reallocate(TrainerCallback):
        def on_optimizer_step(self, args, state, control, model=None, **kwargs):
            trainer.model.base_model.update_and_allocate(state.global_step)

    trainer.add_callback(Reallocate())


def validate(spec) -> None:
    args = spec.method_args
    if args.get("target_r", 8) > args.get("init_r", 12):
        raise StudioError(key="methods.method_args_target_r", target_r=args['target_r'], init_r=args.get('init_r', 12))
    if args.get("warmup_fraction", 0.1) + args.get("final_fraction", 0.2) >= 1:
        raise StudioError(key="methods.method_args_warmup_fraction")


METHOD = Method(
    name="adalora",
    config=AdaLoraOptions,
    title={"en": "AdaLoRA (adaptive rank)", "zh": "AdaLoRA（自适应秩）"},
    summary={"en": "LoRA that starts with a larger rank everywhere and moves the rank budget to the layers "
                   "that matter most as it trains.",
             "zh": "各层先用较大的秩，训练中把秩预算转移到最重要的层。"},
    when_to_use={"en": "When you are unsure which layers need capacity and want LoRA-sized adapters used "
                       "where they help; a little slower than LoRA.",
                 "zh": "不确定哪些层需要容量、希望把 LoRA 规模的参数用在最有用的地方时使用；比 LoRA 稍慢。"},
    wrap=wrap,
    validate=validate,
    before_train=schedule,
    order=50,
)
