"""The default recipe on the embedded model (issue 10): learn the new name, keep what it knew.

The sample identity data (48 rows teaching the made-up name "Orbiton") trained with the quick start's
plan (`studio.recipe.plan_run`: the cpu-lora-sft preset, auto steps / learning rate, a validation split,
"Keep general abilities" on). Then:
- the 6 held-out identity questions (never trained on) must get the new name (at least 5 of 6);
- 4 plainly factual questions the base model answers right (checked first) must still be answered
  right by the tuned model (at least 3 of 4);
- the probe report is written with its numbers.
Training time (the trainer's own runtime, without the one-time replay answers) is measured and printed,
not asserted: the machine this runs on is shared.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import SAMPLES, train_inline

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

FACTS = [  # (question, a word every right answer holds); none of them is in the bundled general prompts
    ("What is the capital of France?", "paris"),
    ("What is the capital of Japan?", "tokyo"),
    ("How many days are there in a week?", "seven|7"),
    ("What color is the sky on a clear day?", "blue"),
]


def right(answer: str, expected: str) -> bool:
    return any(word in answer.lower() for word in expected.split("|"))


def ask(engine, questions: list[str], adapter: str | None) -> list[str]:
    from studio.infer.base import Sampling

    done = engine.generate([[{"role": "user", "content": q}] for q in questions],
                           Sampling(temperature=0.0, max_tokens=48), adapter)
    return [c.text for c in done]


def test_default_recipe_learns_the_name_and_keeps_the_facts(workspace, embedded_model):
    from studio.eval.probe import probe
    from studio.infer.engines import build
    from studio.recipe import plan_run
    from studio.replay import prompts

    assert not {q for q, _ in FACTS} & {p.text for p in prompts.load()}
    plan = plan_run(str(SAMPLES / "identity_alpaca.jsonl"), workspace_root=workspace.root)
    print(f"\nplan: {plan.summary('en')} | {plan.summary('zh')} | {plan.resolved}")
    assert plan.rows == 48 and len(plan.held_out) == 6

    started = time.time()
    run_dir, artifacts = train_inline(workspace, plan.spec.model_dump(mode="json"), "orbiton")
    wall = time.time() - started
    summary = json.loads((run_dir / "summary.json").read_text())
    recipe = json.loads((run_dir / "recipe.json").read_text())
    print(f"training: {summary['train_runtime_s']} s for {summary['global_step']} steps "
          f"(lr {recipe['learning_rate']}, {recipe['replay_rows']} replay rows, replay answers "
          f"{recipe.get('replay', {}).get('generated')} generated in {recipe.get('replay', {}).get('seconds')} s "
          f"with {recipe.get('replay', {}).get('engine')}); whole job {wall:.0f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    held = [json.loads(line) for line in (run_dir / "heldout.jsonl").read_text().splitlines()]
    assert [h["reference"] for h in held] == [h["reference"] for h in plan.held_out]
    questions = [next(m["content"] for m in h["prompt"] if m["role"] == "user") for h in held]
    engine = build("transformers", str(embedded_model))
    try:
        engine.add_adapter("tuned", artifacts["adapter"])
        base_facts = ask(engine, [q for q, _ in FACTS], None)
        tuned_facts = ask(engine, [q for q, _ in FACTS], "tuned")
        tuned_names = ask(engine, questions, "tuned")
    finally:
        engine.close()
    for (q, _want), b, t in zip(FACTS, base_facts, tuned_facts):
        print(f"{q} | base: {b[:80]!r} | tuned: {t[:80]!r}")
    for q, t in zip(questions, tuned_names):
        print(f"{q} | tuned: {t[:80]!r}")
    assert all(right(b, want) for b, (_q, want) in zip(base_facts, FACTS)), base_facts  # the base knows them
    assert sum("Orbiton" in t for t in tuned_names) >= 5, tuned_names
    assert sum(right(t, want) for t, (_q, want) in zip(tuned_facts, FACTS)) >= 3, tuned_facts

    os.environ["STUDIO_REPLAY_ENGINE"] = "auto"  # what a user gets (conftest picks transformers for speed)
    report = probe(run_dir)
    print("probe:", json.dumps({k: report[k] for k in ("learned", "kept", "threshold", "warning")}))
    assert report["learned"]["tuned"] > report["learned"]["base"]
    assert (run_dir / "probe.json").is_file()
