"""Continued pre-training: next-token prediction over plain text (trl's SFTTrainer on a `text` column)."""

from __future__ import annotations

from .base import Stage, StageConfig, TrainContext


class PTOptions(StageConfig):
    """No options of its own: sequence length and packing (recommended here) are in `training`.

    trl ends every text with the end-of-text token, so documents never run into each other.
    """


def build_trainer(ctx: TrainContext):
    from trl import SFTConfig

    from .sft import trainer_class

    args = SFTConfig(**ctx.training_args, max_length=ctx.spec.training.max_length, packing=ctx.spec.training.packing,
                     dataset_text_field="text", completion_only_loss=False, dataset_num_proc=None)
    return trainer_class(ctx.device)(model=ctx.model, args=args, train_dataset=ctx.train_dataset, eval_dataset=ctx.eval_dataset,
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


STAGE = Stage(
    name="pt",
    config=PTOptions,
    title={"en": "Continued pre-training (plain text)", "zh": "继续预训练（纯文本）"},
    summary={"en": "Keep training the model to predict the next word on your own text: books, manuals, "
                   "reports. It absorbs the vocabulary, facts and style of that text.",
             "zh": "在你自己的文本（书籍、手册、报告）上继续训练模型预测下一个词，使其吸收这些文本的词汇、知识和风格。"},
    when_to_use={"en": "You have raw text from a domain the model knows little about. Follow it with SFT so the "
                       "model still answers questions well.",
                 "zh": "你有某个领域的原始文本而模型对该领域了解不多时使用；之后再做 SFT，让模型仍能很好地回答问题。"},
    data_target="text",
    build_trainer=build_trainer,
    objective="loss",
    trainer_name="trl SFTTrainer (text)",
    order=10,
)
