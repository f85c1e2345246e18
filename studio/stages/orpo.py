"""ORPO: SFT and preference learning in one loss, with no reference model (trl.experimental ORPOTrainer)."""

from __future__ import annotations

from ..config import opt
from ._common import no_packing, preference_args
from .base import Stage, StageConfig, StageMemory, TrainContext


class ORPOOptions(StageConfig):
    beta: float = opt(0.1, "Weight of the odds-ratio preference term next to the SFT loss (lambda in the paper)",
                      "赔率比偏好项相对 SFT 损失的权重（论文中的 lambda）", gt=0, le=10)


def build_trainer(ctx: TrainContext):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    cfg: ORPOOptions = ctx.spec.stage_config()
    args = ORPOConfig(**preference_args(ctx, beta=cfg.beta))
    return ORPOTrainer(model=ctx.model, args=args, train_dataset=ctx.train_dataset, eval_dataset=ctx.eval_dataset,
                       processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


def check(spec) -> None:
    no_packing(spec, "ORPO")


def memory(_spec) -> StageMemory:
    """Chosen and rejected go through the model together; ORPO needs no reference model."""
    return StageMemory(sequences_per_row=2)


STAGE = Stage(
    name="orpo",
    config=ORPOOptions,
    title={"en": "ORPO (odds-ratio preference optimisation)", "zh": "ORPO（赔率比偏好优化）"},
    summary={"en": "Learns the chosen answers (like SFT) and pushes the rejected ones down in the same step; "
                   "needs no reference model, so it uses less memory than DPO.",
             "zh": "在同一步中学习被选回答（类似 SFT）并压低被拒回答；不需要参考模型，显存比 DPO 更省。"},
    when_to_use={"en": "You have preference pairs and want to go from a base or lightly tuned model in one stage "
                       "instead of SFT followed by DPO.",
                 "zh": "你有偏好对数据，想用一个阶段代替“先 SFT 再 DPO”时使用。"},
    data_target="preference",
    build_trainer=build_trainer,
    check=check,
    objective="rewards/margins",
    higher_is_better=True,
    trainer_name="trl.experimental ORPOTrainer",
    order=60,
    memory=memory,
)
