"""DPO on the embedded SmolLM2 changes its behaviour on prompts it never saw.

The preference pairs prefer a direct answer over one that hedges ("I'm not completely sure, and I
could be wrong, but I think ..."). Trained on 32 pairs, the model must favour the direct answer on
the 8 held-out pairs more than the base model does, measured by log-probabilities of both answers.
"""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES, train_inline
from test_stages import answer_logp, learned_margins, mean, reload

PAIRS = SAMPLES / "preference_pairs.jsonl"
TRAIN_ROWS = 32


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dpo_on_the_embedded_model_prefers_direct_answers_on_held_out_prompts(workspace):
    spec = {"model": {"name": "smollm2-135m-instruct"}, "data": {"path": str(PAIRS), "max_rows": TRAIN_ROWS},
            "method": "lora", "method_args": {"r": 16, "alpha": 32}, "stage": "dpo",
            "stage_args": {"beta": 0.1},
            "training": {"max_steps": 6, "batch_size": 4, "learning_rate": 5e-4, "max_length": 128,
                         "save_steps": 100}}
    run_dir, art = train_inline(workspace, spec)
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    held_out = [(r["prompt"], r["chosen"], r["rejected"]) for r in rows[TRAIN_ROWS:]]
    assert len(held_out) == 8 and not {p for p, _, _ in held_out} & {r["prompt"] for r in rows[:TRAIN_ROWS]}

    model, tok, _ = reload(art)
    learned = learned_margins(model, tok, held_out)
    assert mean(learned) > 1.0  # nats, summed over the answer
    assert sum(m > 0 for m in learned) >= 7
    # the hedging answer itself became less likely than before, not just the direct one more likely
    hedged = [answer_logp(model, tok, p, bad) for p, _, bad in held_out]
    with model.disable_adapter():
        hedged_base = [answer_logp(model, tok, p, bad) for p, _, bad in held_out]
    assert mean(hedged) < mean(hedged_base)
    print(f"held-out margin gain {mean(learned):.2f} nats; hedged answer log-prob "
          f"{mean(hedged_base):.1f} -> {mean(hedged):.1f}")
