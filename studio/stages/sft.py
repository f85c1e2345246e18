"""SFT / instruction tuning with trl's SFTTrainer: loss on the answer only, optional packing."""

from __future__ import annotations

from ..config import opt
from .base import Stage, StageConfig, TrainContext


class SFTOptions(StageConfig):
    completion_only_loss: bool = opt(True, "Learn only from the answer, not the prompt",
                                     "只在回答部分计算损失，不学习提示部分")


def build_trainer(ctx: TrainContext):
    from trl import SFTConfig

    cfg: SFTOptions = ctx.spec.stage_config()
    padding_free = ctx.extras.get("padding_free", False)  # decided by train.args.padding_free: every row fits
    args = SFTConfig(
        **ctx.training_args,
        max_length=None if padding_free else ctx.spec.training.max_length,
        padding_free=padding_free,
        packing=ctx.spec.training.packing,
        completion_only_loss=cfg.completion_only_loss,
        dataset_num_proc=None,
    )
    return trainer_class(ctx.device)(model=ctx.model, args=args, train_dataset=ctx.train_dataset,
                                     eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer,
                                     callbacks=ctx.callbacks)


def trainer_class(device: str):
    """On a CPU, trl's SFTTrainer with the lean loss (stages/lean_loss.py: why); elsewhere trl's own."""
    if device == "cpu":
        from .lean_loss import trainer_class as lean

        return lean()
    from trl import SFTTrainer

    return SFTTrainer


STAGE = Stage(
    name="sft",
    config=SFTOptions,
    title={"en": "Supervised fine-tuning (SFT)", "zh": "监督微调（SFT）"},
    summary={"en": "Teach the model to answer like your examples: instruction in, answer out.",
             "zh": "让模型学会像示例那样回答：输入指令，输出回答。"},
    when_to_use={"en": "You have instruction/answer rows or chat conversations.",
                 "zh": "你有指令/回答数据或多轮对话数据。"},
    data_target="sft",
    build_trainer=build_trainer,
    objective="loss",
    trainer_name="trl SFTTrainer",
    order=20,
)
