"""The registries end to end through the CLI, on the tiny model (issue 11, "must show").

Every method x {train, chat, eval, merge-or-refusal}, and every stage x the data shapes it takes, each
started as a user would: `studio train --preset cpu-lora-sft --set method=... / stage=...`. The
default run checks that the matrix covers every registry entry and runs one row (KTO on preference
pairs: a train job through the CLI); every method row (train, chat, eval and merge jobs: about a minute
each on a quiet 2-core machine, four when it is shared) and every other stage row are `-m slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import SAMPLES
from studio import methods, stages

TINY = "tiny-random-llama"
DATA = str(SAMPLES / "identity_alpaca.jsonl")
FAST: set[str] = set()
TRAIN = ["--set", "max_steps=2", "--set", "batch_size=2", "--set", "max_length=64", "--set", "save_steps=100"]

# stage -> (data files it takes, extra --set options it needs on the tiny model)
SHAPES = {
    "sft": (["identity_alpaca.jsonl", "sharegpt_tools.json", "messages_tools.jsonl"], []),
    "pt": (["plain_text.txt", "identity_alpaca.jsonl"], []),
    "rm": (["preference_pairs.jsonl"], ["max_length=256"]),  # the reward trainer skips pairs over max_length
    "dpo": (["preference_pairs.jsonl"], []),
    "orpo": (["preference_pairs.jsonl"], []),
    "simpo": (["preference_pairs.jsonl"], []),
    "kto": (["kto_feedback.jsonl", "preference_pairs.jsonl"], []),
    "grpo": (["math_prompts.jsonl", "identity_alpaca.jsonl"], ["num_generations=2", "max_new_tokens=4"]),
    "ppo": (["math_prompts.jsonl"], ["rewards=[length]", "max_new_tokens=4"]),
    "rlaif": (["math_prompts.jsonl"], [f"judge={TINY}", "max_new_tokens=4"]),
    "distill": (["identity_alpaca.jsonl"], [f"teacher={TINY}", "max_new_tokens=4"]),
}
FAST_STAGES = {("kto", "preference_pairs.jsonl")}


def cli(capsys, *args) -> tuple[int, str, str]:
    from studio.cli import main

    code = main(list(args))
    got = capsys.readouterr()
    return code, got.out, got.err


def last_artifact(workspace) -> str:
    from studio.jobs import JobManager

    job = JobManager(workspace).list(kind="train")[0]
    assert job.state == "succeeded", job.error
    return job.artifacts.get("adapter") or job.artifacts["model"]


def test_the_matrix_covers_every_registry_entry():
    assert set(SHAPES) == set(stages.REGISTRY.names())
    assert FAST <= set(methods.REGISTRY.names()) and len(methods.REGISTRY.names()) >= 17


def method_row(method: str, workspace, capsys, tmp_path: Path) -> None:
    from studio.jobs import JobManager
    from studio.merge import artifacts

    code, _out, err = cli(capsys, "train", "--preset", "cpu-lora-sft", "--model", TINY, "--data", DATA,
                          "--name", f"m-{method}", "--set", f"method={method}", *TRAIN)
    assert code == 0, err
    art = last_artifact(workspace)
    on_base = artifacts.on_base(art)
    # chat: an artifact on its base, or a whole model as the model
    chat = ["--model", TINY, "--adapter", art] if on_base else ["--model", art]
    code, _out, err = cli(capsys, "chat", *chat, "--prompt", "Who are you?", "--max-tokens", "4")
    assert code == 0, err
    # eval: base vs tuned on two rows
    spec = {"model": TINY, ("adapter" if on_base else "tuned_model"): art, "engine": "transformers",
            "data": {"path": DATA, "limit": 2}, "sampling": {"max_tokens": 4}, "name": f"eval-{method}"}
    (tmp_path / "EVAL.yaml").write_text(yaml.safe_dump(spec))
    code, out, err = cli(capsys, "eval", str(tmp_path / "EVAL.yaml"))
    assert code == 0, err
    # merge, or its refusal before any job
    problem = artifacts.refusal(art, "merge")
    merges = len(JobManager(workspace).list(kind="merge"))
    code, out, err = cli(capsys, "merge", art, "--name", f"merged-{method}")
    if problem is None:
        assert code == 0, err
        report = json.loads((workspace.merged / f"merged-{method}" / "merge_report.json").read_text())
        check = report["verification"]
        if report.get("quantized_base"):  # merged onto full-precision weights: differs by the quantisation error
            assert check["top1_agreement"] >= 0.9 and check["note"], check
        else:
            assert check["within_tolerance"], check
    else:
        assert code == 2 and problem.one_line() in err
        assert len(JobManager(workspace).list(kind="merge")) == merges  # refused up front


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(set(methods.REGISTRY.names()) - FAST))
def test_method_row_slow(method, workspace, tiny_model, capsys, tmp_path):
    method_row(method, workspace, capsys, tmp_path)


def stage_row(stage: str, data: str, workspace, capsys) -> None:
    _files, extra = SHAPES[stage]
    sets = [x for item in extra for x in ("--set", item)]
    code, _out, err = cli(capsys, "train", "--preset", "cpu-lora-sft", "--model", TINY, "--data", str(SAMPLES / data),
                          "--name", f"s-{stage}", "--set", f"stage={stage}", *TRAIN, *sets)
    assert code == 0, err
    assert Path(last_artifact(workspace)).is_dir()


@pytest.mark.parametrize("stage, data", sorted(FAST_STAGES))
def test_stage_row(stage, data, workspace, tiny_model, capsys):
    stage_row(stage, data, workspace, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("stage, data", sorted({(s, d) for s, (files, _e) in SHAPES.items() for d in files}
                                               - FAST_STAGES))
def test_stage_row_slow(stage, data, workspace, tiny_model, capsys):
    stage_row(stage, data, workspace, capsys)
