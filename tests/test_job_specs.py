"""One typed spec per job kind: validated in JobManager.submit, built by one function for the UI and the
CLI, accepted as SPEC.yaml + --set by every command with the same unknown-key messages as `studio train`."""

from __future__ import annotations

import pytest
import yaml

from conftest import SAMPLES
from studio.errors import StudioError


def run_cli(capsys, *args) -> tuple[int, str]:
    from studio.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err


def test_submit_validates_every_kind(workspace):
    from studio.jobs import JobManager

    manager = JobManager(workspace)
    for kind, raw, problem in [
        ("merge", {"mode": "merge", "adaptr": "x"}, "unknown key 'adaptr' — did you mean 'adapter'?"),
        ("serve", {"model": "tiny-random-llama", "engin": "vllm"}, "unknown key 'engin' — did you mean 'engine'?"),
        ("eval", {"model": "tiny-random-llama"}, "data"),
        ("generate", {"seed_path": "x", "num_instructionz": 3}, "did you mean 'num_instructions'?"),
        ("train", {"method": "lora", "method_args": {"rr": 8}}, "did you mean 'r'?"),
    ]:
        with pytest.raises(StudioError, match=problem.replace("?", r"\?")):
            manager.submit(kind, raw, start=False)
    assert manager.list() == []


@pytest.mark.parametrize("command, spec, bad", [
    (["merge"], {"mode": "soup", "models": ["a", "b"]}, "dtyp=bfloat16"),
    (["serve"], {"model": "tiny-random-llama"}, "engin=transformers"),
    (["eval"], {"model": "tiny-random-llama", "data": {"path": "x.jsonl"}}, "limt=3"),
    (["data", "self-instruct"], {"seed_path": "x"}, "num_instruction=3"),
    (["train"], {"model": {"name": "tiny-random-llama"}}, "max_step=3"),
])
def test_every_command_takes_a_spec_file_and_set_with_the_same_messages(capsys, workspace, tmp_path, command, spec,
                                                                        bad):
    path = tmp_path / "SPEC.yaml"
    path.write_text(yaml.safe_dump(spec))
    code, err = run_cli(capsys, *command, str(path), "--set", bad)
    key = bad.split("=")[0]
    assert code == 2 and f"--set {key}: unknown key — did you mean" in err, err


def test_builders_and_yaml(tmp_path):
    from studio.infer.spec import ServeSpec, serve_spec
    from studio.merge.spec import MergeSpec
    from studio.spec import build_typed, spec_yaml

    spec = serve_spec("tiny-random-llama", options={"max_model_len": 512, "seed": None})
    assert spec.options == {"max_model_len": 512}
    again = build_typed(ServeSpec, yaml.safe_load(spec_yaml(spec)))
    assert again == spec
    with pytest.raises(StudioError, match="unknown engine option"):
        serve_spec("tiny-random-llama", options={"max_len": 1})
    raw = {"mode": "combine", "adapters": [str(SAMPLES), str(SAMPLES)], "weights": [1.0]}
    with pytest.raises(StudioError, match="1 weights for 2 sources"):
        build_typed(MergeSpec, raw, source="MERGE.yaml", command="merge")
