"""lm-evaluation-harness: a local multiple-choice task scored on base and tuned, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, tiny_spec, train_inline
from studio.errors import StudioError

QUESTIONS = [
    ("What is the capital of France?", ["Paris", "Berlin", "Madrid"], 0),
    ("How many legs does a spider have?", ["six", "eight", "ten"], 1),
    ("What color is the sky on a clear day?", ["green", "red", "blue"], 2),
    ("Which animal says moo?", ["cow", "cat", "dog"], 0),
    ("What is your name?", ["Orbiton", "Bob", "Alice"], 0),
]


@pytest.fixture
def mc_file(tmp_path) -> Path:
    path = tmp_path / "mc.jsonl"
    path.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in QUESTIONS))
    return path


def test_local_mc_file_is_checked_row_by_row(tmp_path, mc_file):
    from studio.eval import lmeval

    assert lmeval.check_mc_file(mc_file) == len(QUESTIONS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "choices": ["a", "b"], "answer": 0}) + "\n"
                   + json.dumps({"question": "q", "choices": ["a", "b"], "answer": 5}) + "\n")
    with pytest.raises(StudioError) as err:
        lmeval.check_mc_file(bad)
    assert "bad.jsonl, line 2" in err.value.one_line() and "第 2 行" in err.value.one_line("zh")
    with pytest.raises(StudioError):
        lmeval.build({"model": "tiny-random-llama"})  # neither tasks nor a local file


@pytest.mark.slow  # lm-eval indexes its ~10k task files and scores two models: ~3 min here
def test_harness_scores_base_and_tuned_side_by_side(workspace, tiny_model, mc_file, capsys):
    from studio.cli import main

    run_dir, artifacts = train_inline(workspace, tiny_spec(SAMPLES / "identity_alpaca.jsonl", learning_rate=2e-2,
                                                           max_steps=4, save_steps=100), "lm")
    code = main(["--workspace", str(workspace.root), "eval", "--harness", "local", "--mc-file", str(mc_file),
                 "--model", "tiny-random-llama", "--adapter", artifacts["adapter"]])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "studio_local_mc" in out.out and "acc" in out.out
    summary = json.loads(Path(out.out.strip().splitlines()[-1].split("results: ")[1]).read_text())
    cell = summary["tasks"]["studio_local_mc"]["acc"]
    assert set(cell) == {"base", "tuned", "delta"}
    assert all(0.0 <= cell[k] <= 1.0 for k in ("base", "tuned"))
    assert cell["delta"] == pytest.approx(cell["tuned"] - cell["base"])
    # each side's full lm-eval results are kept, and a copy of the summary lands in the training run's folder
    job_dir = Path(out.out.strip().splitlines()[-1].split("results: ")[1]).parent
    for side in ("base", "tuned"):
        side_result = json.loads((job_dir / "lmeval" / f"{side}.json").read_text())
        assert side_result["n-samples"]["studio_local_mc"]["effective"] == len(QUESTIONS)
    assert list((run_dir / "lmeval").glob("*.json"))
    # the tuned side really is the adapter: its log-likelihoods differ, so lm-eval's acc_norm/acc are its own
    base = json.loads((job_dir / "lmeval" / "base.json").read_text())["results"]["studio_local_mc"]
    tuned = json.loads((job_dir / "lmeval" / "tuned.json").read_text())["results"]["studio_local_mc"]
    assert set(base) == set(tuned)


@pytest.mark.slow
def test_hub_tasks_offline_say_they_need_the_hub(tmp_path, tiny_model):
    from studio.eval import lmeval

    spec = lmeval.build({"model": "tiny-random-llama", "tasks": ["hellaswag"], "limit": 2})
    with pytest.raises(StudioError) as err:
        lmeval.evaluate(spec, tmp_path, lambda f, m: None)
    assert err.value.key == "lmeval.needs_hub" and "hellaswag" in err.value.one_line()
