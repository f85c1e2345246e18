"""DPO: learn from preference pairs directly, without a reward model (trl's DPOTrainer).

The RPO variant adds a negative log-likelihood term on the chosen answer (`rpo_alpha` > 0), which
keeps the model from drifting away from good answers while it pushes bad ones down; it is trl's
combined loss `loss_type: [<loss>, "sft"]` with weights `[1, rpo_alpha]`.
"""

from __future__ import annotations

from typing import Literal

from ..config import opt
from ._common import no_packing, preference_args, reference_model
from .base import Stage, StageConfig, StageMemory, TrainContext

LOSSES = ("sigmoid", "ipo", "hinge", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down",
          "sigmoid_norm")


class DPOOptions(StageConfig):
    beta: float = opt(0.1, "How far the model may move from where it started (higher: stays closer)",
                      "模型可以偏离初始模型的程度（越大越接近初始模型）", gt=0, le=10)
    rpo_alpha: float = opt(0.0, "RPO: weight of an extra loss that keeps the chosen answers likely (0: plain DPO; "
                                "the RPO paper uses 1.0)",
                           "RPO：让被选回答保持高概率的附加损失权重（0 为普通 DPO；论文用 1.0）", ge=0, le=10)
    loss_type: Literal[LOSSES] = opt("sigmoid", "Preference loss: sigmoid (DPO), ipo, hinge, robust, ...",
                                     "偏好损失：sigmoid（DPO）、ipo、hinge、robust 等", advanced=True)
    label_smoothing: float = opt(0.0, "Assumed share of wrongly labelled pairs (robust loss only; must be < 0.5)",
                                 "假定标注错误的偏好对比例（仅 robust 损失，需小于 0.5）", ge=0, lt=0.5, advanced=True)


def dpo_config_kwargs(cfg: DPOOptions) -> dict:
    losses, weights = [cfg.loss_type], [1.0]
    if cfg.rpo_alpha > 0:
        losses.append("sft")
        weights.append(cfg.rpo_alpha)
    return {"beta": cfg.beta, "loss_type": losses, "loss_weights": weights, "label_smoothing": cfg.label_smoothing}


def dpo_trainer(ctx: TrainContext, cfg: DPOOptions, train_dataset, eval_dataset):
    """trl's DPOTrainer on `train_dataset` (RLAIF builds its own pairs, then trains with this too).

    `eval_dataset`: the run's held-out pairs for DPO; RLAIF passes None (its held-out rows are bare
    prompts, which DPO cannot score without judging them first)."""
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**preference_args(ctx, **dpo_config_kwargs(cfg)))
    return DPOTrainer(model=ctx.model, ref_model=reference_model(ctx), args=args, train_dataset=train_dataset,
                      eval_dataset=eval_dataset,
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


def build_trainer(ctx: TrainContext):
    return dpo_trainer(ctx, ctx.spec.stage_config(), ctx.train_dataset, ctx.eval_dataset)


def check(spec) -> None:
    no_packing(spec, "DPO")


def memory(_spec) -> StageMemory:
    """Chosen and rejected go through the model together, and a frozen reference scores them."""
    return StageMemory(sequences_per_row=2, reference=True)


STAGE = Stage(
    name="dpo",
    config=DPOOptions,
    title={"en": "DPO (direct preference optimisation)", "zh": "DPO（直接偏好优化）"},
    summary={"en": "Show the model pairs of a better and a worse answer; it learns to prefer the better one, "
                   "with no separate reward model. Set rpo_alpha for the RPO variant.",
             "zh": "给模型看成对的较好与较差回答，让它学会偏好较好的那个，无需单独的奖励模型。设置 rpo_alpha 即为 RPO 变体。"},
    when_to_use={"en": "After SFT, when you have preference pairs (prompt, chosen, rejected) and want to steer "
                       "style, safety or quality.",
                 "zh": "在 SFT 之后，你有偏好对数据（提示、被选回答、被拒回答），想调整风格、安全性或质量时使用。"},
    data_target="preference",
    build_trainer=build_trainer,
    check=check,
    objective="rewards/margins",
    higher_is_better=True,
    trainer_name="trl DPOTrainer",
    order=50,
    memory=memory,
)
