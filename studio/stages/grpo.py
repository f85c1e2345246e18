"""GRPO: sample several answers per prompt, score them, and favour those above their group's average.

trl's GRPOTrainer does the sampling and the update; the rewards come from `studio.stages.rewards`
(exact match against the reference answer, a format regex, length, a reward model from the rm stage,
or the user's own function).
"""

from __future__ import annotations

from ..config import opt
from ..errors import StudioError
from . import rewards
from ._common import no_packing
from .base import Stage, StageMemory, TrainContext


class GRPOOptions(rewards.RewardOptions):
    num_generations: int = opt(4, "Answers sampled per prompt (the group they are compared within)",
                               "每个提示采样的回答数（在组内相互比较）", ge=2, le=64)
    max_new_tokens: int = opt(128, "Longest sampled answer in tokens", "采样回答的最大 token 数", ge=1, le=8192)
    temperature: float = opt(1.0, "Sampling temperature (variety within a group is what GRPO learns from)",
                             "采样温度（组内的差异正是 GRPO 学习的来源）", gt=0, le=2)
    top_k: int = opt(0, "Sample only among the k most likely tokens (0: all tokens)",
                     "只在概率最高的 k 个词中采样（0 为全部）", ge=0, advanced=True)
    beta: float = opt(0.0, "KL penalty towards the starting model (0: none, as in DAPO / Dr. GRPO)",
                      "相对初始模型的 KL 惩罚（0 为不加，与 DAPO / Dr. GRPO 一致）", ge=0, le=1, advanced=True)
    epsilon: float = opt(0.2, "Clipping range of the policy ratio", "策略比率的裁剪范围", gt=0, lt=1, advanced=True)


def build_trainer(ctx: TrainContext):
    from trl import GRPOConfig, GRPOTrainer

    cfg: GRPOOptions = ctx.spec.stage_config()
    rewards.needs_answers(cfg, ctx.train_dataset)
    funcs = rewards.build(cfg, ctx.device, ctx.workspace_root)
    args = GRPOConfig(**ctx.training_args, num_generations=cfg.num_generations,
                      max_completion_length=cfg.max_new_tokens, temperature=cfg.temperature, beta=cfg.beta,
                      epsilon=cfg.epsilon, reward_weights=cfg.reward_weights or None, top_k=cfg.top_k,
                      log_completions=False)
    return GRPOTrainer(model=ctx.model, reward_funcs=funcs, args=args, train_dataset=ctx.train_dataset,
                       eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


def check(spec) -> None:
    cfg = spec.stage_config()
    rewards.check(cfg)
    no_packing(spec, "GRPO")
    per_step = spec.training.batch_size * spec.training.grad_accum
    if per_step % cfg.num_generations:
        raise StudioError(key="stages.grpo_samples_answers_per", num_generations=cfg.num_generations,
                          per_step=per_step)


def memory(spec) -> StageMemory:
    """A group of sampled answers per prompt, each prompt plus up to max_new_tokens; a reference only with a KL term."""
    cfg = spec.stage_config()
    return StageMemory(sequences_per_row=cfg.num_generations, reference=cfg.beta > 0,
                       generated_tokens=cfg.max_new_tokens)


STAGE = Stage(
    name="grpo",
    config=GRPOOptions,
    title={"en": "GRPO (reinforcement learning from rewards)", "zh": "GRPO（基于奖励的强化学习）"},
    summary={"en": "The model answers each prompt several times; answers that score above their group's average "
                   "are reinforced. Rewards can be checked automatically: a correct final answer, a format, a length.",
             "zh": "模型对每个提示回答多次，得分高于组内平均的回答被强化。奖励可自动判定：最终答案正确、格式、长度。"},
    when_to_use={"en": "Tasks with checkable answers (maths, extraction, formatting) given as prompts with "
                       "reference answers, or any task with a reward model or your own scoring function.",
                 "zh": "答案可以自动检查的任务（数学、信息抽取、格式），数据为带参考答案的提示；"
                       "或有奖励模型、自定义评分函数的任何任务。"},
    data_target="prompt",
    build_trainer=build_trainer,
    check=check,
    objective="reward",
    higher_is_better=True,
    trainer_name="trl GRPOTrainer",
    order=90,
    memory=memory,
)
