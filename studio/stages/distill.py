"""Knowledge distillation: a student learns to match a teacher's next-token distributions.

trl's GKD trainer (`trl.experimental.gkd`) compares the two models' full token distributions with a
generalised Jensen-Shannon divergence. `lmbda` is the share of steps trained on the student's own
sampled answers (on-policy, GKD proper); `lmbda: 0` with `beta: 0` is classic logit KD on the data's
answers (forward KL). Both models must share the tokenizer: the distributions are compared token by
token.

The loss is Hinton et al.'s (2015): both distributions are softened by `kd_temperature` T and the
divergence is multiplied by T² (so its gradients keep their size as T changes), and `alpha` mixes in
the ordinary cross-entropy on the data's tokens (the "hard labels"):
    loss = alpha * CE(student, labels) + (1 - alpha) * T² * D_beta(teacher_T || student_T)
trl's GKDTrainer computes D at T = 1 with no hard-label term, so `kd_loss` replaces its loss.
`temperature` is only the sampling temperature of on-policy answers.
"""

from __future__ import annotations

from pathlib import Path

from ..config import opt
from ..errors import StudioError
from ._common import load_other_model, no_packing
from .base import Stage, StageConfig, StageMemory, TrainContext


class DistillOptions(StageConfig):
    teacher: str | None = opt(None, "Teacher: a registry name, a local model folder, or a finished run's "
                                    "adapter/model folder. It must use the same tokenizer as the student",
                              "教师模型：内置名称、本地模型文件夹或已完成运行的 adapter/model 文件夹，需与学生模型使用同一分词器")
    lmbda: float = opt(0.5, "Share of steps on the student's own sampled answers (0: only the data's answers, "
                            "i.e. classic logit distillation)",
                       "在学生自己采样的回答上训练的步数比例（0 表示只用数据中的回答，即经典 logit 蒸馏）", ge=0, le=1)
    beta: float = opt(0.5, "Divergence: 0 = forward KL (classic KD), 1 = reverse KL, between = generalised JSD",
                      "散度：0 为前向 KL（经典蒸馏），1 为反向 KL，中间为广义 JSD", ge=0, le=1)
    temperature: float = opt(0.9, "Sampling temperature of the student's own answers (on-policy steps; not the "
                                  "loss: see kd_temperature)", "学生采样回答的温度（仅用于在线策略步骤，不影响损失，"
                                  "见 kd_temperature）", gt=0, le=2, advanced=True)
    max_new_tokens: int = opt(128, "Longest sampled answer in tokens (on-policy steps)", "采样回答的最大 token 数",
                              ge=1, le=4096, advanced=True)
    seq_kd: bool = opt(False, "On the other steps, train on the teacher's sampled answers instead of the data's",
                       "其余步骤改用教师采样的回答而非数据中的回答", advanced=True)
    kd_temperature: float = opt(1.0, "Softening temperature T of both distributions in the loss (Hinton: 2-4 "
                                     "shows more of the teacher's 'dark knowledge'); the divergence is scaled by T²",
                                "损失中软化两个分布的温度 T（Hinton 建议 2–4，可传递更多教师的“暗知识”）；散度乘以 T²",
                                gt=0, le=20)
    alpha: float = opt(0.0, "Share of the ordinary cross-entropy on the data's tokens mixed into the loss "
                            "(0: distillation only)", "混入损失的数据 token 普通交叉熵比例（0 表示只做蒸馏）",
                       ge=0, le=1)


def load_teacher(ctx: TrainContext, name: str):
    """(model, tokenizer) of the teacher: a model by name or folder, or a finished run's artifact."""
    folder = Path(name).expanduser()
    if (folder / "studio_run.json").is_file():
        from ..merge.artifacts import load_trained

        ctx.progress(f"Loading the teacher {name}")
        model, tokenizer = load_trained(folder, ctx.device, ctx.spec.model.dtype)
        model.requires_grad_(False)
        return model, tokenizer
    _ref, model, tokenizer = load_other_model(name, ctx, "teacher")
    return model, tokenizer


def same_tokenizer(student, teacher, name: str) -> None:
    if student.get_vocab() != teacher.get_vocab():
        raise StudioError(key="stages.teacher_uses_different_tokenizer", name=name, n_teacher=len(teacher),
                          n_student=len(student))


def as_messages(row: dict) -> dict:
    turns = row["messages"] if "messages" in row else row["prompt"] + row["completion"]
    return {"messages": turns}


def kd_loss(student_logits, teacher_logits, labels, beta: float = 0.0, temperature: float = 1.0,
            alpha: float = 0.0, num_items_in_batch=None):
    """alpha * CE(student, labels) + (1 - alpha) * T² * generalised JSD of the T-softened distributions.

    Logits are already shifted (position i predicts token i + 1); labels are -100 where nothing is learned.
    """
    import torch.nn.functional as F
    from trl.experimental.gkd import GKDTrainer

    kd = GKDTrainer.generalized_jsd_loss(student_logits, teacher_logits, labels=labels, beta=beta,
                                         temperature=temperature, num_items_in_batch=num_items_in_batch)
    loss = kd * temperature ** 2
    if alpha > 0:
        ce = F.cross_entropy(student_logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100,
                             reduction="sum")
        count = num_items_in_batch if num_items_in_batch is not None else (labels != -100).sum().clamp_min(1)
        loss = alpha * ce / count + (1 - alpha) * loss
    return loss


def trainer_class():
    """GKDTrainer with the temperature-scaled loss and the hard-label mix (`kd_loss`)."""
    import torch
    from trl.experimental.gkd import GKDTrainer

    class KDTrainer(GKDTrainer):
        def __init__(self, *args, kd_temperature: float = 1.0, alpha: float = 0.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.kd_temperature, self.alpha = kd_temperature, alpha

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            student = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            self.teacher_model.eval()
            with torch.no_grad():
                teacher = self.teacher_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            loss = kd_loss(student.logits[:, :-1, :], teacher.logits[:, :-1, :], inputs["labels"][:, 1:],
                           self.beta, self.kd_temperature, self.alpha, num_items_in_batch)
            return (loss, student) if return_outputs else loss

    return KDTrainer


def build_trainer(ctx: TrainContext):
    from trl.experimental.gkd import GKDConfig

    cfg: DistillOptions = ctx.spec.stage_config()
    teacher, teacher_tok = load_teacher(ctx, cfg.teacher)
    same_tokenizer(ctx.tokenizer, teacher_tok, cfg.teacher)
    train = ctx.train_dataset.map(as_messages, remove_columns=ctx.train_dataset.column_names)
    evaluation = (ctx.eval_dataset.map(as_messages, remove_columns=ctx.eval_dataset.column_names)
                  if ctx.eval_dataset is not None else None)
    args = GKDConfig(**ctx.training_args, max_length=ctx.spec.training.max_length, lmbda=cfg.lmbda, beta=cfg.beta,
                     temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seq_kd=cfg.seq_kd,
                     dataset_num_proc=None)
    return trainer_class()(model=ctx.model, teacher_model=teacher, args=args, train_dataset=train,
                           eval_dataset=evaluation, processing_class=ctx.tokenizer, callbacks=ctx.callbacks,
                           kd_temperature=cfg.kd_temperature, alpha=cfg.alpha)


def check(spec) -> None:
    from ..models.registry import check_name

    cfg = spec.stage_config()
    no_packing(spec, "distillation")
    if not cfg.teacher:
        raise StudioError(key="stages.distillation_needs_teacher_model")
    if not (Path(cfg.teacher).expanduser() / "studio_run.json").is_file():
        check_name(cfg.teacher)


def memory(spec) -> StageMemory:
    """A frozen teacher beside the student; both produce full logits for the divergence; on-policy steps sample."""
    cfg = spec.stage_config()
    teacher = cfg.teacher if cfg.teacher and "/" not in cfg.teacher else ""
    return StageMemory(frozen_models=(teacher,), full_logits=True,
                       generated_tokens=cfg.max_new_tokens if cfg.lmbda > 0 else 0)


STAGE = Stage(
    name="distill",
    config=DistillOptions,
    title={"en": "Knowledge distillation (GKD / logit KD)", "zh": "知识蒸馏（GKD / logit 蒸馏）"},
    summary={"en": "A smaller student model learns to reproduce a bigger teacher's word-by-word probabilities, "
                   "not just its final answers.",
             "zh": "让较小的学生模型学习复现较大教师模型逐词的概率分布，而不仅是最终答案。"},
    when_to_use={"en": "You want a small, fast model that behaves like a larger one from the same family "
                       "(same tokenizer), on prompts and answers like yours.",
                 "zh": "你想要一个小而快、表现接近同系列（同一分词器）大模型的模型，并有与之相关的提示和回答数据时使用。"},
    data_target="sft",
    build_trainer=build_trainer,
    check=check,
    objective="loss",
    trainer_name="trl.experimental GKDTrainer",
    order=110,
    memory=memory,
)
