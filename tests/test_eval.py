"""Evaluation: metrics, judging, and a real eval job (tiny model, transformers engine) from the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from conftest import tiny_spec, train_inline
from studio.errors import StudioError
from studio.eval import judge, metrics
from studio.eval.runner import load_examples
from studio.eval.spec import EvalData, build

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
IDENTITY = SAMPLES / "identity_alpaca.jsonl"


# ---------------------------------------------------------------- metrics

def test_exact_match_ignores_case_punctuation_and_spaces():
    assert metrics.exact_match("  Paris. ", "paris") == 1.0
    assert metrics.exact_match("Paris", "Lyon") == 0.0
    assert metrics.exact_match("北京。", "北京") == 1.0


def test_rouge_l_is_the_lcs_f1():
    # LCS("a c d", "a b c d") = 3: precision 3/3, recall 3/4 -> F1 = 6/7
    assert metrics.rouge_l("a c d", "a b c d") == pytest.approx(6 / 7)
    assert metrics.rouge_l("x y", "a b") == 0.0
    # CJK counts per character (rouge-score alone would drop them): LCS 2 of 4 -> 0.5
    assert metrics.rouge_l("我爱上海", "我爱北京") == pytest.approx(0.5)


def test_bleu_bounds_and_chinese():
    ref = "the cat sat on the mat today"
    assert metrics.corpus_bleu([ref], [ref]) == pytest.approx(100.0)
    assert metrics.sentence_bleu("dogs run fast everywhere", ref) < 10
    assert metrics.corpus_bleu(["今天天气很好我们去公园"], ["今天天气很好我们去公园"]) == pytest.approx(100.0)
    partial = metrics.sentence_bleu("the cat sat on a mat", ref)
    assert 0 < partial < 100


def test_summary_averages_and_uses_corpus_bleu():
    preds, refs = ["a b c d", "x"], ["a b c d", "y"]
    per = [metrics.score(p, r) for p, r in zip(preds, refs)]
    out = metrics.summarize(preds, refs, per)
    assert out["exact_match"] == 0.5 and out["rouge_l"] == 0.5 and out["examples"] == 2
    assert out["bleu"] == pytest.approx(metrics.corpus_bleu(preds, refs), abs=0.01)


# ---------------------------------------------------------------- judge

def test_judge_parsing_and_both_orders():
    assert judge.parse("B") == "B" and judge.parse("Answer: A.") == "A" and judge.parse("t") == "T"
    assert judge.parse("A or B?") is None and judge.parse("I cannot tell") is None
    assert judge.verdict("B", "A") == "win" and judge.verdict("A", "B") == "loss"
    assert judge.verdict("B", "B") == "tie" and judge.verdict("T", "A") == "tie"
    assert judge.verdict(None, "A") == "invalid"
    rows = [{"question": "q", "reference": "r", "base": "bad", "tuned": "good"}] * 2

    def prefers_good(convs):  # a judge that reads the answers: picks the letter of "good"
        return ["A" if "Answer A:\ngood" in c[0]["content"] else "B" for c in convs]

    out = judge.judge_all(prefers_good, rows)
    assert [o["verdict"] for o in out] == ["win", "win"]
    assert judge.win_rate(["win", "loss", "tie", "invalid"]) == {"win": 1, "loss": 1, "tie": 1, "invalid": 1,
                                                                 "win_rate": 0.5}


# ---------------------------------------------------------------- data and spec

def test_eval_uses_the_saved_validation_split(workspace):
    from studio.data.store import save_dataset

    rows = [json.loads(line) for line in IDENTITY.read_text().splitlines()]
    save_dataset(workspace.datasets, "ident", rows[:40], "alpaca", validation=rows[40:])
    examples, which = load_examples(EvalData(path="ident"), workspace.root)
    assert which == "the saved validation split" and len(examples) == 8
    assert examples[0].reference == rows[40]["output"] and examples[0].prompt[-1]["content"] == rows[40]["instruction"]
    examples, which = load_examples(EvalData(path="ident", split="all", limit=5), workspace.root)
    assert which == "all rows" and len(examples) == 5
    with pytest.raises(StudioError, match="no saved validation split"):
        load_examples(EvalData(path=str(IDENTITY), split="validation"), workspace.root)


def test_spec_refuses_two_tuned_sides():
    with pytest.raises(StudioError, match="either adapter or tuned_model"):
        build({"data": {"path": "x"}, "adapter": "a", "tuned_model": "b"})
    with pytest.raises(StudioError, match="judge.url"):
        build({"data": {"path": "x"}, "judge": {"kind": "endpoint"}})


# ---------------------------------------------------------------- a real evaluation job

@pytest.fixture(scope="module")
def identity_tiny_adapter(tmp_path_factory) -> Path:
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("eval-train"))
    _run, artifacts = train_inline(ws, tiny_spec(IDENTITY, max_steps=8, learning_rate=2e-2, batch_size=8,
                                                 save_steps=100), "ident")
    return Path(artifacts["adapter"])


def test_eval_job_base_vs_adapter_from_the_cli(workspace, identity_tiny_adapter, tmp_path, capsys):
    from studio.cli import main

    spec = {"name": "ident", "model": "tiny-random-llama", "adapter": str(identity_tiny_adapter),
            "engine": "transformers", "data": {"path": str(IDENTITY), "limit": 6},
            "sampling": {"max_tokens": 8, "temperature": 1.0, "seed": 3}, "batch_size": 4,
            "judge": {"kind": "model", "model": "tiny-random-llama", "max_tokens": 4}}
    path = tmp_path / "EVAL.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["--workspace", str(workspace.root), "eval", str(path)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "6 examples" in printed and "tuned" in printed and "CSV:" in printed

    csv_path = Path(printed.split("CSV:")[1].strip().splitlines()[0])
    assert csv_path.parent == workspace.exports and csv_path.is_file()
    import pandas as pd

    table = pd.read_csv(csv_path)
    assert len(table) == 6
    for side in ("base", "tuned"):
        assert {side, f"{side}_exact_match", f"{side}_rouge_l", f"{side}_bleu", f"{side}_loss"} <= set(table.columns)
    row = table.iloc[0]
    again = metrics.score(str(row["tuned"]) if isinstance(row["tuned"], str) else "", row["reference"])
    assert row["tuned_rouge_l"] == pytest.approx(again["rouge_l"], abs=1e-4)
    assert (table["delta_loss"] - (table["tuned_loss"] - table["base_loss"])).abs().max() < 1e-3

    job_dir = next(p for p in workspace.jobs.iterdir() if p.name.startswith("eval-"))
    summary = json.loads((job_dir / "summary.json").read_text())
    base, tuned = summary["sides"]["base"], summary["sides"]["tuned"]
    assert summary["engine"] == "transformers" and summary["examples"] == 6
    assert tuned["perplexity"] == pytest.approx(math.exp(tuned["loss"]), rel=1e-2)
    # the adapter was trained on these rows: it finds the references more likely than the base does
    assert tuned["loss"] < base["loss"]
    j = summary["judge"]
    assert j["win"] + j["loss"] + j["tie"] + j["invalid"] == 6 and j["model"] == "tiny-random-llama"

    # what the Evaluation sub-tab shows: the summary table and the per-example rows
    from studio.eval import results
    from studio.jobs import JobManager
    from studio.ui.i18n import Translator

    job = next(j for j in JobManager(workspace).list(kind="eval"))
    shown = results.summary_markdown(results.summary_of(job), Translator("en"))
    assert "| base |" in shown and "| tuned |" in shown and "| Δ |" in shown and "win rate" in shown
    frame = results.rows_of(job)
    assert len(frame) == 6 and {"question", "reference", "base", "tuned", "delta_rouge_l"} <= set(frame.columns)
