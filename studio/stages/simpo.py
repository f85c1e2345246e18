"""SimPO: preference learning on length-normalised log-probabilities with a target margin, no reference model.

trl implements it in its CPO trainer (`loss_type="simpo"`); `cpo_alpha` > 0 adds CPO's behaviour-cloning
term on the chosen answers (CPO-SimPO).
"""

from __future__ import annotations

from ..config import opt
from ._common import no_packing, preference_args
from .base import Stage, StageConfig, StageMemory, TrainContext


class SimPOOptions(StageConfig):
    beta: float = opt(2.0, "Scale of the reward (the SimPO paper uses 2 to 2.5)", "奖励的缩放系数（论文用 2 到 2.5）",
                      gt=0, le=20)
    gamma: float = opt(0.5, "Target margin between chosen and rejected rewards", "被选与被拒回答奖励之间的目标差距",
                       ge=0, le=10)
    cpo_alpha: float = opt(0.0, "Weight of an extra loss that keeps the chosen answers likely (CPO-SimPO; 0: off)",
                           "让被选回答保持高概率的附加损失权重（CPO-SimPO；0 为关闭）", ge=0, le=10, advanced=True)


def build_trainer(ctx: TrainContext):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    cfg: SimPOOptions = ctx.spec.stage_config()
    args = CPOConfig(**preference_args(ctx, loss_type="simpo", beta=cfg.beta, simpo_gamma=cfg.gamma,
                                       cpo_alpha=cfg.cpo_alpha))
    return CPOTrainer(model=ctx.model, args=args, train_dataset=ctx.train_dataset, eval_dataset=ctx.eval_dataset,
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


def check(spec) -> None:
    no_packing(spec, "SimPO")


def memory(_spec) -> StageMemory:
    """Chosen and rejected go through the model together; SimPO needs no reference model."""
    return StageMemory(sequences_per_row=2)


STAGE = Stage(
    name="simpo",
    config=SimPOOptions,
    title={"en": "SimPO (simple preference optimisation)", "zh": "SimPO（简单偏好优化）"},
    summary={"en": "Like DPO but without a reference model: the reward is the average log-probability of an "
                   "answer, and chosen answers must beat rejected ones by a margin.",
             "zh": "类似 DPO 但不需要参考模型：以回答的平均对数概率为奖励，被选回答需以一定差距胜过被拒回答。"},
    when_to_use={"en": "Preference pairs with less memory than DPO; length normalisation also discourages "
                       "answers that are long just to win.",
                 "zh": "用比 DPO 更少的显存做偏好学习；长度归一化还能抑制靠变长取胜的回答。"},
    data_target="preference",
    build_trainer=build_trainer,
    check=check,
    objective="rewards/margins",
    higher_is_better=True,
    trainer_name="trl.experimental CPOTrainer (loss_type=simpo)",
    order=70,
    memory=memory,
)
