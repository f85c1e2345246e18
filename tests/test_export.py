"""GGUF export: an adapter trained on the tiny model -> GGUF read back with the same greedy answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, tiny_spec, train_inline
from studio.errors import StudioError


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("export-ws"))
    run_dir, artifacts = train_inline(ws, tiny_spec(SAMPLES / "identity_alpaca.jsonl", learning_rate=2e-2,
                                                    max_steps=4, save_steps=100), "gguf-run")
    (run_dir / "probe.json").write_text(json.dumps({"results": [{"prompt": "Who are you?", "answer": "Orbiton"}]}))
    return Path(artifacts["adapter"])


@pytest.mark.slow  # a training run, a merge, a conversion and two models answering: ~2 min here
def test_adapter_exported_to_f16_gguf_answers_like_the_merged_model(workspace, adapter, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "out" / "tiny.f16.gguf"
    code = main(["--workspace", str(workspace.root), "export", str(adapter), "--format", "gguf", "--quant", "f16",
                 "-o", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert out.is_file() and out.read_bytes()[:4] == b"GGUF"
    report = json.loads((out.parent / "export_report.json").read_text())
    check = report["check"]
    assert report["merged_first"] and report["base_model"] == "tiny-random-llama" and report["method"] == "lora"
    # exact: the file holds the merged model's matrices in f16, and reads back to the same logits
    stored = check["vs_merged_as_stored"]
    assert stored["same_prompt_tokens"] and stored["same_tokens"] and stored["max_abs_logit_diff"] == 0.0
    assert all(p["same_tokens"] for p in stored["probes"]) and len(stored["probes"]) == 4
    assert check["passed"]
    # the chat template and tokenizer are inside the file
    from gguf import GGUFReader

    fields = GGUFReader(str(out)).fields
    assert "tokenizer.chat_template" in fields and "tokenizer.ggml.tokens" in fields
    modelfile = (out.parent / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./tiny.f16.gguf") and "<|im_start|>" in modelfile
    card = (out.parent / "README.md").read_text()
    assert "tiny-random-llama" in card and "lora" in card and "Orbiton" in card and "identity_alpaca" in card
    assert "same tokens" in printed.out


@pytest.mark.slow
def test_q8_0_export_reports_its_difference(workspace, adapter, tmp_path):
    from studio.export import runner

    out = tmp_path / "q8" / "tiny.q8_0.gguf"
    report = runner.export(str(adapter), out, "q8_0", tmp_path / "work")
    check = report["check"]
    assert check["passed"] and check["vs_merged"]["same_prompt_tokens"] and check["vs_merged_as_stored"] is None
    assert 0 < check["vs_merged"]["max_abs_logit_diff"] < 0.5 and "q8_0" in check["note"]
    assert out.stat().st_size < (tmp_path / "q8").stat().st_size + 10 ** 8


def test_export_refuses_what_it_cannot_do(workspace, tmp_path):
    from studio.export.runner import job_spec as build_spec
    from studio.export import gguf

    with pytest.raises(StudioError) as err:
        build_spec(str(tmp_path), "gguf", "q4_k_m", None, None)
    assert "llama-quantize" in err.value.one_line() and "llama-quantize" in err.value.one_line("zh")
    with pytest.raises(StudioError):
        build_spec(str(tmp_path), "gguf", "q8_0", str(tmp_path / "x.bin"), None)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(StudioError) as err:
        gguf.check_model(tmp_path)
    assert "GPT2LMHeadModel" in err.value.one_line()
