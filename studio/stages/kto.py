"""KTO: learn from single answers marked good or bad, no pairs needed (trl's KTOTrainer)."""

from __future__ import annotations

from ..config import opt
from ..errors import StudioError
from ._common import no_packing, preference_args, reference_model
from .base import Stage, StageConfig, StageMemory, TrainContext


class KTOOptions(StageConfig):
    beta: float = opt(0.1, "How far the model may move from where it started (higher: stays closer)",
                      "模型可以偏离初始模型的程度（越大越接近初始模型）", gt=0, le=10)
    desirable_weight: float = opt(1.0, "Weight of the answers marked good (raise it when they are rarer)",
                                  "标为好的回答的权重（好回答较少时调高）", gt=0, le=10)
    undesirable_weight: float = opt(1.0, "Weight of the answers marked bad (raise it when they are rarer)",
                                    "标为差的回答的权重（差回答较少时调高）", gt=0, le=10)


def _both_labels(dataset) -> None:
    labels = set(dataset["label"])
    if labels != {True, False}:
        kind = "good (true)" if True in labels else "bad (false)"
        raise StudioError(key="stages.every_row_data_marked", kind=kind)


def build_trainer(ctx: TrainContext):
    from trl import KTOConfig, KTOTrainer

    cfg: KTOOptions = ctx.spec.stage_config()
    _both_labels(ctx.train_dataset)
    args = KTOConfig(**preference_args(ctx, beta=cfg.beta, desirable_weight=cfg.desirable_weight,
                                       undesirable_weight=cfg.undesirable_weight))
    return KTOTrainer(model=ctx.model, ref_model=reference_model(ctx), args=args, train_dataset=ctx.train_dataset,
                      eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


def check(spec) -> None:
    no_packing(spec, "KTO")
    if spec.training.batch_size < 2:  # trl's KL term pairs each answer with another one of the same micro-batch
        raise StudioError(key="stages.kto_batch", batch=spec.training.batch_size)


def memory(_spec) -> StageMemory:
    """Each answer and a mismatched one (trl's KL estimate) go through the model, and a reference scores both."""
    return StageMemory(sequences_per_row=2, reference=True)


STAGE = Stage(
    name="kto",
    config=KTOOptions,
    title={"en": "KTO (learning from thumbs up / down)", "zh": "KTO（从点赞/点踩中学习）"},
    summary={"en": "Learns from answers that were each marked good or bad, without needing a better and a worse "
                   "answer to the same prompt.",
             "zh": "从分别被标为好或差的回答中学习，不需要同一提示下成对的好坏回答。"},
    when_to_use={"en": "Your feedback is thumbs up / thumbs down on single answers (prompt, completion, label). "
                       "Preference pairs work too: each pair becomes a desirable and an undesirable answer.",
                 "zh": "你的反馈是对单个回答的点赞/点踩（提示、回答、标签）时使用。偏好对也可以：每对会拆成一条好回答和一条差回答。"},
    data_target="unpaired",
    build_trainer=build_trainer,
    check=check,
    objective="rewards/margins",
    higher_is_better=True,
    trainer_name="trl KTOTrainer",
    order=80,
    memory=memory,
)
