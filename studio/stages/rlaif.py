"""RLAIF: a judge model labels pairs of the model's own answers, then DPO learns from those labels.

Runs entirely inside the training job: the policy samples two answers per prompt, the judge (the
embedded model or any local model, through the studio's transformers engine) picks the better one
by the user's principle, and trl's DPOTrainer trains on the judged pairs. The pairs are written to
`rlaif_pairs.jsonl` in the run folder, so the user can read what the judge decided, and a resumed
run trains on exactly the same pairs.
"""

from __future__ import annotations

from ..atomic import read_jsonl, write_jsonl
from ..config import opt
from ..errors import StudioError
from ._common import no_packing, sample_answers
from .base import Stage, StageMemory, TrainContext
from .dpo import DPOOptions, dpo_trainer

PAIRS_FILE = "rlaif_pairs.jsonl"
DEFAULT_PRINCIPLE = "Which answer is more helpful, correct and clear?"
JUDGE_SYSTEM = ("You are a careful judge. Read the question and two answers, then reply with a single letter: "
                "A if Answer A is better, B if Answer B is better.")


class RLAIFOptions(DPOOptions):
    judge: str = opt("smollm2-135m-instruct", "Judge model: a registry name or a local model folder",
                     "评判模型：内置名称或本地模型文件夹")
    principle: str = opt(DEFAULT_PRINCIPLE, "What the judge should prefer, in one sentence",
                         "评判标准（一句话说明应偏好什么样的回答）")
    max_prompts: int = opt(64, "Prompts to sample answer pairs for", "用于采样回答对的提示数", ge=2, le=100000)
    max_new_tokens: int = opt(128, "Longest sampled answer in tokens", "采样回答的最大 token 数", ge=1, le=4096)
    temperature: float = opt(1.0, "Sampling temperature for the two answers (they must differ)",
                             "两个回答的采样温度（两者需要不同）", gt=0, le=2)
    top_k: int = opt(0, "Sample only among the k most likely tokens (0: all tokens)",
                     "只在概率最高的 k 个词中采样（0 为全部）", ge=0, advanced=True)
    min_confidence: float = opt(0.0, "Keep a pair only when the judge prefers one answer with a probability above "
                                     "0.5 + this (0: every pair it does not tie)",
                                "仅当评判模型对某个回答的偏好概率高于 0.5 加此值时保留该对（0 表示保留所有非平局的对）",
                                ge=0, lt=0.5, advanced=True)


def judge_prompt(principle: str, question: str, first: str, second: str) -> list[dict]:
    user = (f"{principle}\n\nQuestion:\n{question}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}\n\n"
            "Reply with one letter, A or B.")
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def question_text(prompt) -> str:
    if isinstance(prompt, list):
        return "\n".join(str(t.get("content") or "") for t in prompt if t.get("role") != "system")
    return str(prompt)


def letter_logprobs(engine, conversations: list[list[dict]], batch_size: int = 8) -> list[float]:
    """log P("A") - log P("B") for the judge's first reply token, one value per conversation."""
    import torch

    tok, model = engine.tokenizer, engine.model
    ids = [tok.encode(letter, add_special_tokens=False)[0] for letter in ("A", "B")]
    out: list[float] = []
    for i in range(0, len(conversations), batch_size):
        texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                 for c in conversations[i:i + batch_size]]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            last = model(**enc).logits[:, -1].float().log_softmax(-1)  # left-padded: the last column is the reply
        out += (last[:, ids[0]] - last[:, ids[1]]).tolist()
    return out


def judge_pairs(engine, cfg: RLAIFOptions, prompts: list, answers: list[list[str]]) -> list[dict]:
    """The judge's preference for every pair of different answers, as preference rows.

    As in the RLAIF paper (Lee et al., 2023) the verdict is read from the judge's probabilities of the
    letters A and B rather than from generated text, and averaged over both orders of the two answers,
    which cancels the judge's position bias (a small judge nearly always writes "A").
    """
    import math

    todo = [(p, a, b) for p, (a, b) in zip(prompts, answers) if a.strip() and b.strip() and a != b]
    if not todo:
        return []
    first = letter_logprobs(engine, [judge_prompt(cfg.principle, question_text(p), a, b) for p, a, b in todo])
    swapped = letter_logprobs(engine, [judge_prompt(cfg.principle, question_text(p), b, a) for p, a, b in todo])
    rows = []
    for (prompt, a, b), x, y in zip(todo, first, swapped):
        p_a = 1 / (1 + math.exp(-(x - y) / 2))  # P(a is better): both orders averaged in log-odds
        if abs(p_a - 0.5) <= cfg.min_confidence:
            continue
        chosen, rejected = (a, b) if p_a > 0.5 else (b, a)
        rows.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
                     "rejected": [{"role": "assistant", "content": rejected}],
                     "judge_confidence": round(max(p_a, 1 - p_a), 4)})
    return rows


def make_pairs(ctx: TrainContext, cfg: RLAIFOptions) -> list[dict]:
    from ..infer import engines
    from ..models import resolve

    prompts = list(ctx.train_dataset["prompt"])[: cfg.max_prompts]
    ctx.progress(f"Sampling two answers for each of {len(prompts)} prompts")
    answers = sample_answers(ctx.model, ctx.tokenizer, prompts, 2, cfg.max_new_tokens, cfg.temperature,
                             top_k=cfg.top_k, seed=ctx.spec.training.seed)
    ctx.progress(f"Loading the judge {cfg.judge}")
    engine = engines.build("transformers", str(resolve(cfg.judge).path), {"device": ctx.device})
    try:
        ctx.progress(f"The judge is comparing {len(prompts)} answer pairs")
        rows = judge_pairs(engine, cfg, prompts, answers)
    finally:
        engine.close()
    ctx.log(f"rlaif: the judge decided {len(rows)} of {len(prompts)} pairs")
    if len(rows) < 2:
        raise StudioError(key="stages.judge_gave_usable_verdict", judge=cfg.judge, n_rows=len(rows),
                          n_prompts=len(prompts))
    return rows


def build_trainer(ctx: TrainContext):
    from datasets import Dataset

    cfg: RLAIFOptions = ctx.spec.stage_config()
    path = ctx.run_dir / PAIRS_FILE
    rows = read_jsonl(path) if path.is_file() else []
    if not rows:
        rows = make_pairs(ctx, cfg)
        write_jsonl(path, rows)
    pairs = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]
    return dpo_trainer(ctx, cfg, Dataset.from_list(pairs), eval_dataset=None)  # held-out rows are bare prompts


def check(spec) -> None:
    from ..models.registry import check_name

    no_packing(spec, "RLAIF")
    check_name(spec.stage_config().judge)


def memory(_spec) -> StageMemory:
    """Training is DPO on the judged pairs; the judge is released before it starts."""
    return StageMemory(sequences_per_row=2, reference=True)


STAGE = Stage(
    name="rlaif",
    config=RLAIFOptions,
    title={"en": "RLAIF (AI feedback, then DPO)", "zh": "RLAIF（AI 反馈 + DPO）"},
    summary={"en": "No preference data needed: the model writes two answers per prompt, a judge model picks the "
                   "better one by your principle, and DPO learns from those choices.",
             "zh": "无需偏好数据：模型对每个提示写两个回答，评判模型按你的标准选出更好的，再用 DPO 从这些选择中学习。"},
    when_to_use={"en": "You have prompts but no human preference labels, and a judge model at least as capable as "
                       "the model you train. Read rlaif_pairs.jsonl in the run folder to check the judge.",
                 "zh": "你只有提示而没有人工偏好标注，并且有一个不弱于被训练模型的评判模型时使用。"
                       "可查看运行文件夹中的 rlaif_pairs.jsonl 检查评判结果。"},
    data_target="prompt",
    build_trainer=build_trainer,
    check=check,
    objective="rewards/margins",
    higher_is_better=True,
    trainer_name="judge via studio transformers engine + trl DPOTrainer",
    order=100,
    memory=memory,
)
