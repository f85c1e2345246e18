"""Reward modelling: a score head on the model, trained to rank the chosen answer above the rejected one.

The runner loads the base with a one-score sequence-classification head (`model_kind`), the method
wraps it as usual (peft methods get task type SEQ_CLS, so the new head trains and is saved with the
adapter) and trl's RewardTrainer applies the Bradley-Terry loss. The result scores answers for the
`ppo` and `grpo` stages (`stage_args.reward_model`).
"""

from __future__ import annotations

from ..config import opt
from ..errors import StudioError
from ._common import no_packing, preference_args
from .base import Stage, StageConfig, TrainContext


class RMOptions(StageConfig):
    center_rewards: float | None = opt(0.01, "Pull the mean score towards 0 (coefficient; empty: off). Keeps scores "
                                             "comparable between prompts",
                                       "把平均分拉向 0 的系数（留空关闭），使不同提示的分数可比", advanced=True)


def build_trainer(ctx: TrainContext):
    from trl import RewardConfig, RewardTrainer

    cfg: RMOptions = ctx.spec.stage_config()
    args = RewardConfig(**preference_args(ctx, center_rewards_coefficient=cfg.center_rewards, disable_dropout=True))
    trainer = RewardTrainer(model=ctx.model, args=args, train_dataset=ctx.train_dataset,
                            eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer, callbacks=ctx.callbacks)
    _report_skipped(ctx, len(ctx.train_dataset), len(trainer.train_dataset))
    return trainer


def _report_skipped(ctx: TrainContext, given: int, kept: int) -> None:
    """trl's RewardTrainer drops (does not cut) pairs longer than max_length: say so, and refuse if none are left."""
    limit = ctx.spec.training.max_length
    if kept == 0:
        raise StudioError(key="stages.all_preference_pairs_are", given=given, limit=limit)
    if kept < given:
        ctx.log(f"data warning: {given - kept} of {given} pairs are longer than max_length={limit} tokens and are "
                "skipped by the reward trainer; raise training.max_length to use them")


def check(spec) -> None:
    no_packing(spec, "reward modelling")


STAGE = Stage(
    name="rm",
    config=RMOptions,
    title={"en": "Reward model", "zh": "奖励模型"},
    summary={"en": "Train a judge: the model learns to give the better answer of each pair a higher score.",
             "zh": "训练一个评分器：模型学会给每对回答中更好的那个打更高的分。"},
    when_to_use={"en": "The first step of classic RLHF: you have preference pairs and want PPO or GRPO to "
                       "optimise against a learned score.",
                 "zh": "经典 RLHF 的第一步：你有偏好对数据，并希望之后用 PPO 或 GRPO 针对学到的分数优化。"},
    data_target="preference",
    build_trainer=build_trainer,
    check=check,
    objective="accuracy",
    higher_is_better=True,
    model_kind="sequence_classification",
    trainer_name="trl RewardTrainer",
    order=30,
)
