"""Every training stage trains a few steps on the tiny model through the real recipe, shows its
objective improving, and leaves an artifact that reloads and still shows what was learned.

The tiny random model is nearly uniform over 49k tokens and its output norm is fixed, so the online
stages (GRPO, PPO, RLAIF) sample among the top 3 tokens at a low temperature: a small action space the
policy can visibly move in a few steps. Rewards are measured again after reloading the artifact,
on fresh samples, against the base model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, tiny_spec, train_inline

PAIRS = SAMPLES / "preference_pairs.jsonl"
KTO = SAMPLES / "kto_feedback.jsonl"
MATH = SAMPLES / "math_prompts.jsonl"
TEXT = SAMPLES / "plain_text.txt"
ONLINE = {"max_new_tokens": 4, "top_k": 3, "temperature": 0.5}


def stage_spec(stage: str, data: Path, stage_args: dict | None = None, max_rows: int | None = None, **training):
    training = {"max_steps": 5, "batch_size": 4, "max_length": 96, "learning_rate": 1e-2, "save_steps": 100,
                **training}
    spec = tiny_spec(data, **training)
    spec["stage"] = stage
    spec["stage_args"] = stage_args or {}
    if max_rows:
        spec["data"]["max_rows"] = max_rows
    return spec


def logged(run_dir: Path, key: str) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r[key] for r in rows if key in r]


def rows_of(path: Path, n: int) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:n]]


def reload(artifacts: dict):
    from studio.merge.artifacts import load_trained

    folder = artifacts.get("adapter") or artifacts["model"]
    info = json.loads((Path(folder) / "studio_run.json").read_text())
    model, tok = load_trained(folder)
    return model, tok, info


def answer_logp(model, tok, prompt: str, answer: str, average: bool = False) -> float:
    """Log-probability of the answer tokens after the chat-formatted prompt (summed, or per token)."""
    import torch

    turns = [{"role": "user", "content": prompt}]
    head = tok.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(turns + [{"role": "assistant", "content": answer}], tokenize=False)
    head_ids = tok(head, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([tok(full, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        logps = model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
    targets = ids[0, 1:]
    picked = logps[torch.arange(len(targets)), targets]
    answer_part = picked[len(head_ids) - 1:]
    return float(answer_part.mean() if average else answer_part.sum())


def learned_margins(model, tok, pairs: list[tuple[str, str, str]], average: bool = False) -> list[float]:
    """Per pair: how much more the tuned model (vs its base) favours the good answer over the bad one.

    `average`: per-token log-probabilities, the quantity ORPO and SimPO compare (they normalise by length).
    """
    out = []
    for prompt, good, bad in pairs:
        tuned = answer_logp(model, tok, prompt, good, average) - answer_logp(model, tok, prompt, bad, average)
        with model.disable_adapter():
            base = answer_logp(model, tok, prompt, good, average) - answer_logp(model, tok, prompt, bad, average)
        out.append(tuned - base)
    return out


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


# ---------------------------------------------------------------- the registry

EXPECTED = {"pt", "sft", "rm", "ppo", "dpo", "orpo", "simpo", "kto", "grpo", "rlaif", "distill"}


def test_every_stage_is_registered_with_texts_and_typed_options():
    from studio.data.formats import TARGETS
    from studio.models.loading import MODEL_KINDS
    from studio.stages import REGISTRY

    assert set(REGISTRY.names()) == EXPECTED
    for stage in REGISTRY:
        for which in ("title", "summary", "when_to_use"):
            assert stage.text(which, "en") and stage.text(which, "zh") != stage.text(which, "en"), (stage.name, which)
        assert stage.data_target in TARGETS and stage.model_kind in MODEL_KINDS and stage.objective
        assert stage.trainer_name
        for name, info in stage.config.model_fields.items():
            assert info.description and info.json_schema_extra.get("zh"), (stage.name, name)


def test_stage_options_are_settable_by_bare_name():
    from studio.spec import build_spec

    spec = build_spec(stage_spec("dpo", PAIRS), ["rpo_alpha=0.5", "beta=0.2"])
    assert spec.stage_args["rpo_alpha"] == 0.5 and spec.stage_args["beta"] == 0.2


# ---------------------------------------------------------------- language-model stages

def test_pt_continued_pretraining_lowers_loss_on_the_text(workspace):
    # the same 4 paragraphs every step: the loss on them must fall, and stay lower after reloading
    run_dir, art = train_inline(workspace, stage_spec("pt", TEXT, max_rows=4, max_steps=5))
    loss = logged(run_dir, "loss")
    assert loss[-1] < loss[0]
    model, tok, info = reload(art)
    assert info["stage"] == "pt"
    from studio.data.readers import read_table

    texts = [r["text"] for r in read_table(TEXT).rows[:4]]
    import torch

    def nll(use_base: bool) -> float:
        total = 0.0
        for text in texts:
            ids = tok(text + tok.eos_token, return_tensors="pt", truncation=True, max_length=96)["input_ids"]
            with torch.inference_mode():
                if use_base:
                    with model.disable_adapter():
                        total += float(model(input_ids=ids, labels=ids).loss)
                else:
                    total += float(model(input_ids=ids, labels=ids).loss)
        return total / len(texts)

    assert nll(False) < nll(True) - 0.01


def test_sft_with_packing_packs_rows_and_lowers_loss(workspace, identity_data):
    spec = stage_spec("sft", identity_data, max_rows=16, max_steps=4, batch_size=2, max_length=128, packing=True)
    run_dir, art = train_inline(workspace, spec)
    loss = logged(run_dir, "loss")
    assert loss[-1] < loss[0]
    report = json.loads((run_dir / "data_report.json").read_text())
    tokens = logged(run_dir, "num_tokens")
    per_step = [b - a for a, b in zip([0.0] + tokens[:-1], tokens)]
    # unpacked, a step of 2 rows holds at most 2 x the longest row; packed rows fill 2 x 128 tokens
    assert max(per_step) > 2 * report["max_tokens"]
    model, tok, _ = reload(art)
    rows = rows_of(identity_data, 4)
    gains = [answer_logp(model, tok, r["instruction"], r["output"]) for r in rows]
    with model.disable_adapter():
        base = [answer_logp(model, tok, r["instruction"], r["output"]) for r in rows]
    assert mean(gains) > mean(base)


# ---------------------------------------------------------------- reward model

@pytest.fixture(scope="module")
def reward_run(tmp_path_factory):
    """One rm run shared by the rm test and the PPO-from-a-reward-model test."""
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("rm") / "ws")
    run_dir, art = train_inline(ws, stage_spec("rm", PAIRS, max_rows=8, max_steps=6, max_length=128), name="rm")
    return ws, run_dir, art


def test_rm_learns_to_rank_pairs_and_trains_its_score_head(reward_run):
    import torch

    from studio import methods
    from studio.methods.base import count_parameters
    from studio.models import TINY, resolve
    from studio.models.loading import load_model

    _ws, run_dir, art = reward_run
    accuracy, margin = logged(run_dir, "accuracy"), logged(run_dir, "margin")
    assert accuracy[-1] >= 0.75
    assert margin[-1] > margin[0] + 0.5
    # params.json: the LoRA matrices plus the new one-score head (hidden_size weights)
    lora = methods.REGISTRY.get("lora")
    causal = lora.wrap(load_model(resolve(TINY)), lora.config.model_validate({"r": 8, "alpha": 16}))
    params = json.loads((run_dir / "params.json").read_text())
    assert params["trainable"] == count_parameters(causal)["trainable"] + causal.config.hidden_size
    # the reloaded reward model ranks the pairs it learned
    model, tok, info = reload(art)
    assert info["model_kind"] == "sequence_classification"
    tok.padding_side = "right"
    right = 0
    for row in rows_of(PAIRS, 8):
        texts = [tok.apply_chat_template([{"role": "user", "content": row["prompt"]},
                                          {"role": "assistant", "content": row[k]}], tokenize=False)
                 for k in ("chosen", "rejected")]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            chosen, rejected = model(**enc).logits[:, 0].tolist()
        right += chosen > rejected
    assert right >= 6


# ---------------------------------------------------------------- pairwise preference stages

def pair_tuples(n: int) -> list[tuple[str, str, str]]:
    return [(r["prompt"], r["chosen"], r["rejected"]) for r in rows_of(PAIRS, n)]


@pytest.mark.parametrize("stage,stage_args", [
    ("dpo", {"rpo_alpha": 0.5}),  # DPO with the RPO NLL term
    ("orpo", {}),
    ("simpo", {}),
])
def test_preference_stage_raises_the_margin_and_reloads(workspace, stage, stage_args):
    run_dir, art = train_inline(workspace, stage_spec(stage, PAIRS, stage_args, max_rows=4, max_steps=5,
                                                      batch_size=2, max_length=64))
    margins = logged(run_dir, "rewards/margins")
    assert margins[-1] > margins[0]
    assert logged(run_dir, "rewards/accuracies")[-1] >= 0.75
    model, tok, info = reload(art)
    assert info["stage"] == stage
    learned = learned_margins(model, tok, pair_tuples(4), average=stage != "dpo")
    assert mean(learned) > 0 and sum(m > 0 for m in learned) >= 3


def test_dpo_rpo_variant_adds_an_nll_term():
    from studio.stages.dpo import DPOOptions, dpo_config_kwargs

    assert dpo_config_kwargs(DPOOptions(rpo_alpha=1.0))["loss_type"] == ["sigmoid", "sft"]
    assert dpo_config_kwargs(DPOOptions(rpo_alpha=1.0))["loss_weights"] == [1.0, 1.0]
    assert dpo_config_kwargs(DPOOptions())["loss_type"] == ["sigmoid"]


def test_kto_learns_from_unpaired_feedback(workspace):
    run_dir, art = train_inline(workspace, stage_spec("kto", KTO, max_rows=8, max_steps=5, max_length=64))
    margins = logged(run_dir, "rewards/margins")
    assert margins[-1] > margins[0]
    model, tok, _ = reload(art)
    rows = rows_of(KTO, 8)
    good = [(r["prompt"], r["completion"]) for r in rows if r["label"]]
    bad = [(r["prompt"], r["completion"]) for r in rows if not r["label"]]

    def shift(items):
        out = []
        for prompt, answer in items:
            tuned = answer_logp(model, tok, prompt, answer)
            with model.disable_adapter():
                out.append(tuned - answer_logp(model, tok, prompt, answer))
        return mean(out)

    assert shift(good) > shift(bad)


# ---------------------------------------------------------------- online stages

def sampled_reward(model, tok, prompts: list[str], reward, n: int = 8) -> tuple[float, float]:
    """Mean reward of fresh samples from the tuned model and from its base (adapter off)."""
    from studio.stages._common import sample_answers

    msgs = [[{"role": "user", "content": p}] for p in prompts]

    def score(answers):
        flat = [a for group in answers for a in group]
        return mean(reward(completions=[[{"role": "assistant", "content": a}] for a in flat]))

    tuned = score(sample_answers(model, tok, msgs, n, ONLINE["max_new_tokens"], ONLINE["temperature"],
                                 top_k=ONLINE["top_k"], seed=1))
    with model.disable_adapter():
        base = score(sample_answers(model, tok, msgs, n, ONLINE["max_new_tokens"], ONLINE["temperature"],
                                    top_k=ONLINE["top_k"], seed=1))
    return tuned, base


def test_grpo_with_a_user_reward_function_raises_the_reward(workspace):
    # the user's own reward (a file inside the workspace, opted into): longer answers score higher
    code = workspace.root / "uploads" / "my_reward.py"
    code.write_text("def longer(prompts, completions, **kw):\n"
                    "    return [min(1.0, len(c[0]['content']) / 100) for c in completions]\n")
    args = {"rewards": [], "reward_file": "uploads/my_reward.py", "reward_function": "longer",
            "trust_reward_code": True, "num_generations": 8, **ONLINE}
    run_dir, art = train_inline(workspace, stage_spec("grpo", MATH, args, max_rows=1, max_steps=10, batch_size=8,
                                                      learning_rate=2e-2, max_length=128))
    reward = logged(run_dir, "reward")
    assert mean(reward[-2:]) > mean(reward[:2])
    model, tok, _ = reload(art)
    from studio.stages.rewards import length_reward

    tuned, base = sampled_reward(model, tok, [rows_of(MATH, 1)[0]["prompt"]], length_reward(100), n=16)
    assert tuned > base


def test_ppo_raises_the_reward_with_value_head_and_clipping(workspace):
    args = {"rewards": ["length"], "target_length": 100, "ppo_epochs": 2, **ONLINE}
    spec = stage_spec("ppo", MATH, args, max_rows=8, max_steps=10, batch_size=8, max_length=128, save_steps=4)
    run_dir, art = train_inline(workspace, spec)
    reward = logged(run_dir, "reward")
    assert len(reward) == 5  # one rollout every ppo_epochs=2 steps
    assert mean(reward[-2:]) > reward[0]
    assert any(v > 0 for v in logged(run_dir, "clip_fraction"))  # the rollout is reused: the ratio moves
    # checkpoints carry the value head, so a resumed run continues with the critic it had
    assert (run_dir / "checkpoints" / "checkpoint-8" / "value_head.safetensors").is_file()
    model, tok, _ = reload(art)
    from studio.stages.rewards import length_reward

    prompts = [r["prompt"] for r in rows_of(MATH, 8)]
    tuned, base = sampled_reward(model, tok, prompts, length_reward(100), n=4)
    assert tuned > base


def test_ppo_scores_answers_with_a_trained_reward_model(reward_run):
    ws, rm_dir, _art = reward_run
    args = {"rewards": [], "reward_model": str(rm_dir), "ppo_epochs": 2, **ONLINE}
    run_dir, art = train_inline(ws, stage_spec("ppo", MATH, args, max_rows=4, max_steps=4, batch_size=4,
                                               max_length=128), name="ppo-rm")
    reward = logged(run_dir, "reward")
    assert len(reward) == 2 and all(isinstance(v, float) for v in reward)
    assert len(set(reward)) == 2  # real scores of different answers, not a constant
    assert (Path(art["adapter"]) / "adapter_model.safetensors").is_file()


def test_rlaif_judge_labels_pairs_then_dpo_learns_them(workspace):
    args = {"judge": "smollm2-135m-instruct", "max_new_tokens": 8, "top_k": 3}
    run_dir, art = train_inline(workspace, stage_spec("rlaif", MATH, args, max_rows=8, max_steps=5, batch_size=2,
                                                      max_length=96))
    pairs = [json.loads(line) for line in (run_dir / "rlaif_pairs.jsonl").read_text().splitlines()]
    assert len(pairs) >= 4 and all(0.5 < p["judge_confidence"] <= 1 for p in pairs)
    assert all(p["chosen"][0]["content"] != p["rejected"][0]["content"] for p in pairs)
    margins = logged(run_dir, "rewards/margins")
    assert margins[-1] > margins[0]
    model, tok, _ = reload(art)
    judged = [(p["prompt"][-1]["content"], p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs]
    assert mean(learned_margins(model, tok, judged)) > 0


def test_distill_matches_the_teacher_more_closely(workspace, identity_data):
    import torch

    from studio.models import EMBEDDED, resolve
    from studio.models.loading import load_model

    args = {"teacher": EMBEDDED, "lmbda": 0.0, "beta": 0.0}  # classic logit KD on the data's answers
    run_dir, art = train_inline(workspace, stage_spec("distill", identity_data, args, max_rows=2, max_steps=4,
                                                                   batch_size=2, max_length=64))
    loss = logged(run_dir, "loss")
    assert loss[-1] < loss[0]
    student, tok, _ = reload(art)
    teacher = load_model(resolve(EMBEDDED))
    rows = rows_of(identity_data, 2)
    texts = [tok.apply_chat_template([{"role": "user", "content": r["instruction"]},
                                      {"role": "assistant", "content": r["output"]}], tokenize=False) for r in rows]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)

    def kl_to_teacher() -> float:
        with torch.inference_mode():
            t = teacher(**enc).logits.float().log_softmax(-1)
            s = student(**enc).logits.float().log_softmax(-1)
        per_token = (t.exp() * (t - s)).sum(-1)
        return float((per_token * enc["attention_mask"]).sum() / enc["attention_mask"].sum())

    tuned = kl_to_teacher()
    with student.disable_adapter():
        base = kl_to_teacher()
    assert tuned < base


# ---------------------------------------------------------------- rewards

def test_builtin_rewards_check_answers_format_and_length():
    from studio.stages.rewards import exact_match, format_reward, length_reward

    turns = lambda *texts: [[{"role": "assistant", "content": t}] for t in texts]  # noqa: E731
    got = exact_match(completions=turns("5 + 3 = 8.\nAnswer: 8", "It is 9", "\\boxed{1,000}", "答案：12"),
                      answer=["8", "8", "1000", "12"])
    assert got == [1.0, 0.0, 1.0, 1.0]
    fmt = format_reward(r"Answer\s*:\s*\d+")
    assert fmt(completions=turns("Answer: 3", "three")) == [1.0, 0.0]
    assert length_reward(10)(completions=turns("x" * 10, "x" * 5, "x" * 30)) == [1.0, 0.5, 0.0]


def test_user_reward_file_must_be_inside_the_workspace_and_opted_into(workspace, tmp_path):
    from studio.errors import StudioError
    from studio.spec import build_spec
    from studio.stages.rewards import load_user_function

    outside = tmp_path / "evil.py"
    outside.write_text("def r(prompts, completions, **kw):\n    return [1.0] * len(completions)\n")
    with pytest.raises(StudioError, match="outside the workspace"):
        load_user_function(str(outside), "r", workspace.root)
    inside = workspace.root / "uploads" / "mine.py"
    inside.write_text(outside.read_text())
    assert load_user_function("uploads/mine.py", "r", workspace.root)(prompts=[], completions=[1, 2]) == [1.0, 1.0]
    with pytest.raises(StudioError, match="no function 'nope'"):
        load_user_function(str(inside), "nope", workspace.root)
    args = {"reward_file": "uploads/mine.py", "reward_function": "r"}
    with pytest.raises(StudioError, match="trust_reward_code"):
        build_spec(stage_spec("grpo", MATH, args))


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("stage", ["dpo", "orpo", "simpo", "rm"])
def test_pairwise_stages_refuse_instruction_data_and_say_what_fits(workspace, identity_data, stage):
    from studio.errors import StudioError
    from studio.runs import preflight
    from studio.spec import build_spec

    with pytest.raises(StudioError) as err:
        preflight(build_spec(stage_spec(stage, identity_data)), workspace.root)
    text = str(err.value)
    assert "trains on preference pairs" in text and "the data is instruction rows" in text
    assert "formats: preference" in text and "sft" in text  # what to use instead


def test_kto_takes_pairs_as_unpaired_feedback_and_dpo_refuses_feedback(workspace, capfd):
    """Issue 11 item 2: chosen -> desirable, rejected -> undesirable, said in the log; DPO still needs pairs."""
    from studio.errors import StudioError
    from studio.runs import preflight
    from studio.spec import build_spec

    with pytest.raises(StudioError, match="preference pairs .*the data is unpaired feedback"):
        preflight(build_spec(stage_spec("dpo", KTO)), workspace.root)
    run_dir, _art = train_inline(workspace, stage_spec("kto", PAIRS, max_rows=8, max_steps=2, max_length=64))
    report = json.loads((run_dir / "data_report.json").read_text())
    assert report["train_rows"] == 8 and report["format"] == "preference"
    log = capfd.readouterr().out
    assert "turned into unpaired feedback for KTO" in log and "chosen = desirable" in log


def test_pairs_become_one_desirable_and_one_undesirable_answer():
    from studio.data import formats

    pair = {"prompt": "2+2?", "chosen": "4", "rejected": "5"}
    rows = formats.convert_rows(formats.get("preference"), "unpaired", [pair, dict(pair, chosen="four")])
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == \
        [("4", True), ("5", False), ("four", True), ("5", False)]
    assert rows[0]["prompt"] == [{"role": "user", "content": "2+2?"}]
    assert "2 pairs -> 4 answers" in formats.conversion_note(formats.get("preference"), "unpaired", 2)


def test_invalid_stage_options_are_refused_before_a_run():
    from studio.errors import StudioError
    from studio.spec import build_spec

    cases = [
        (stage_spec("dpo", PAIRS, packing=True), "packing"),
        (stage_spec("grpo", MATH, {"num_generations": 3}, batch_size=4), "multiple of 3"),
        (stage_spec("grpo", MATH, {"rewards": []}), "No reward chosen"),
        (stage_spec("grpo", MATH, {"rewards": ["vibes"]}), "unknown reward 'vibes'"),
        (stage_spec("ppo", MATH, {"rewards": ["length"], "reward_weights": [1, 2]}), "2 weights for 1 rewards"),
        (stage_spec("distill", PAIRS), "needs a teacher"),
        (stage_spec("kto", KTO, batch_size=1), "batch_size=1 cannot work"),
        (stage_spec("kto", KTO, batch_size=1, grad_accum=8), "more than 1 per device"),  # refused before loading
    ]
    for spec, message in cases:
        with pytest.raises(StudioError, match=message):
            build_spec(spec)


def test_ppo_refuses_a_reward_model_that_is_not_one(workspace, tmp_path):
    from studio.errors import StudioError
    from studio.stages.rewards import find_reward_model

    run = tmp_path / "sft-run" / "adapter"
    run.mkdir(parents=True)
    (run / "studio_run.json").write_text(json.dumps({"stage": "sft", "model_kind": "causal_lm"}))
    with pytest.raises(StudioError, match="stage sft, not a reward model"):
        find_reward_model(str(run.parent), workspace.root)
    with pytest.raises(StudioError, match="not found"):
        find_reward_model("no-such-run", workspace.root)


def test_distill_refuses_a_teacher_with_another_tokenizer(workspace, identity_data, tiny_model, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    from studio.errors import StudioError

    teacher = tmp_path / "other-teacher"
    shutil.copytree(tiny_model, teacher)
    tok = AutoTokenizer.from_pretrained(teacher)
    tok.add_tokens(["<made-up-token>"])
    tok.save_pretrained(teacher)
    with pytest.raises(StudioError, match="different tokenizer"):
        train_inline(workspace, stage_spec("distill", identity_data, {"teacher": str(teacher)}))


def test_kto_refuses_data_with_only_one_label(workspace, tmp_path):
    from studio.errors import StudioError

    only_good = tmp_path / "good.jsonl"
    only_good.write_text("".join(json.dumps(r) + "\n" for r in rows_of(KTO, 8) if r["label"]))
    with pytest.raises(StudioError, match="marked good"):
        train_inline(workspace, stage_spec("kto", only_good))


def test_rm_refuses_when_every_pair_is_longer_than_max_length(workspace):
    from studio.errors import StudioError

    # trl's RewardTrainer drops over-long pairs instead of cutting them; with none left, say why
    with pytest.raises(StudioError, match="longer than training.max_length=16"):
        train_inline(workspace, stage_spec("rm", PAIRS, max_rows=4, max_length=16))
