"""PPO from a reward model: classic RLHF (InstructGPT-style), the policy sampled, scored and updated.

trl 1.16 has no PPO trainer, so the loop is `studio.stages._ppo` (value head, GAE, clipped policy and
value losses, KL penalty to the starting model), a transformers Trainer like every other stage. The
reward is a reward model from a finished `rm` run (`reward_model`), built-in verifiable rewards, the
user's own function, or a weighted mix of them.
"""

from __future__ import annotations

from ..config import opt
from . import rewards
from ._common import no_packing, reference_model
from .base import Stage, StageMemory, TrainContext


class PPOOptions(rewards.RewardOptions):
    rewards: list[str] = opt([], "Built-in rewards added to the reward model's score: exact_match, format, length",
                             "与奖励模型分数相加的内置奖励：exact_match、format、length")
    max_new_tokens: int = opt(64, "Longest sampled answer in tokens", "采样回答的最大 token 数", ge=1, le=8192)
    temperature: float = opt(0.7, "Sampling temperature", "采样温度", gt=0, le=2)
    top_k: int = opt(0, "Sample only among the k most likely tokens (0: all tokens)",
                     "只在概率最高的 k 个词中采样（0 为全部）", ge=0, advanced=True)
    kl_coef: float = opt(0.05, "Penalty for drifting from the starting model (per-token KL in the reward)",
                         "偏离初始模型的惩罚（奖励中的逐词 KL）", ge=0, le=1)
    ppo_epochs: int = opt(4, "Optimizer steps taken on each batch of sampled answers",
                          "每批采样回答上进行的优化步数", ge=1, le=16, advanced=True)
    clip_range: float = opt(0.2, "Clipping range of the policy ratio", "策略比率的裁剪范围", gt=0, lt=1, advanced=True)
    value_clip_range: float = opt(0.2, "Clipping range of the value prediction", "价值预测的裁剪范围", gt=0,
                                  advanced=True)
    vf_coef: float = opt(0.1, "Weight of the value loss", "价值损失的权重", gt=0, le=10, advanced=True)
    gamma: float = opt(1.0, "Discount factor over answer tokens", "回答各 token 之间的折扣因子", gt=0, le=1,
                       advanced=True)
    lam: float = opt(0.95, "GAE lambda (bias / variance trade-off of the advantages)",
                     "GAE lambda（优势估计的偏差/方差权衡）", ge=0, le=1, advanced=True)


def build_trainer(ctx: TrainContext):
    from ._ppo import PPOSettings, PPOTrainer, combined_reward, trainer_args

    cfg: PPOOptions = ctx.spec.stage_config()
    rewards.needs_answers(cfg, ctx.train_dataset)
    ctx.progress("Loading the rewards")
    funcs = rewards.build(cfg, ctx.device, ctx.workspace_root)
    settings = PPOSettings(ppo_epochs=cfg.ppo_epochs, clip_range=cfg.clip_range, value_clip_range=cfg.value_clip_range,
                           vf_coef=cfg.vf_coef, kl_coef=cfg.kl_coef, gamma=cfg.gamma, lam=cfg.lam,
                           max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k)
    return PPOTrainer(model=ctx.model, ref_model=reference_model(ctx),
                      reward_fn=combined_reward(funcs, cfg.reward_weights), settings=settings,
                      args=trainer_args(ctx.training_args), train_dataset=ctx.train_dataset,
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


def check(spec) -> None:
    rewards.check(spec.stage_config())
    no_packing(spec, "PPO")


def memory(spec) -> StageMemory:
    """Classic RLHF holds four models: the policy, a frozen reference, a frozen reward model and a trained value model."""
    cfg = spec.stage_config()
    return StageMemory(reference=True, frozen_models=("",) if cfg.reward_model else (),
                       trained_models=("",), generated_tokens=cfg.max_new_tokens)


STAGE = Stage(
    name="ppo",
    config=PPOOptions,
    title={"en": "PPO (classic RLHF with a reward model)", "zh": "PPO（基于奖励模型的经典 RLHF）"},
    summary={"en": "The model answers prompts, a reward model scores the answers, and PPO nudges the model "
                   "towards higher scores while a KL penalty keeps it close to where it started.",
             "zh": "模型回答提示，奖励模型为回答打分，PPO 推动模型获得更高分，同时用 KL 惩罚让它不偏离初始模型太远。"},
    when_to_use={"en": "After training a reward model with the rm stage (give its run as reward_model), on prompts "
                       "like the ones users will ask. GRPO is simpler and often as good for checkable tasks.",
                 "zh": "先用 rm 阶段训练奖励模型（将其运行填入 reward_model），再在与用户提问相似的提示上训练。"
                       "对可自动判定的任务，GRPO 更简单且效果往往相当。"},
    data_target="prompt",
    build_trainer=build_trainer,
    check=check,
    objective="reward",
    higher_is_better=True,
    trainer_name="hand-written PPO (transformers Trainer; trl has no PPOTrainer)",
    order=40,
    memory=memory,
)
