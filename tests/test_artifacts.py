"""Issue 11 item 3: every artifact the studio trains is usable in chat, serve, eval and merge, or refused
up front with the reason and not listed there (studio.merge.artifacts decides, once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLES, tiny_spec, train_inline
from studio.errors import StudioError
from studio.merge import artifacts


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    """A bottleneck adapter, a MoE-LoRA and a BitFit run on the tiny model (2 steps each)."""
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("arts-ws"))
    out = {"ws": ws}
    for method in ("adapter", "moe_lora", "bitfit", "lora", "prompt_tuning"):
        spec = tiny_spec(SAMPLES / "identity_alpaca.jsonl", max_steps=2, learning_rate=5e-2, save_steps=100)
        spec.update(method=method, method_args={})
        _run, art = train_inline(ws, spec, method)
        out[method] = art["adapter"]
    return out


def test_what_each_artifact_is_usable_for(arts):
    for method in ("adapter", "moe_lora", "bitfit", "lora"):
        for purpose in ("chat", "serve", "eval"):
            assert artifacts.usable_for(arts[method], purpose), (method, purpose)
    assert artifacts.usable_for(arts["lora"], "vllm") and not artifacts.usable_for(arts["adapter"], "vllm")
    assert artifacts.usable_for(arts["bitfit"], "merge") and artifacts.usable_for(arts["lora"], "merge")
    for method in ("adapter", "moe_lora"):
        problem = artifacts.refusal(arts[method], "merge")
        assert problem is not None and "cannot be folded" in problem.one_line() and method in problem.one_line()
        assert "无法合并" in problem.one_line("zh")
    merge_list = [folder for _label, folder in artifacts.list_usable(arts["ws"], "merge")]
    chat_list = [folder for _label, folder in artifacts.list_usable(arts["ws"], "chat")]
    assert arts["bitfit"] in merge_list and arts["adapter"] not in merge_list and arts["moe_lora"] not in merge_list
    assert {arts[m] for m in ("adapter", "moe_lora", "bitfit", "lora")} <= set(chat_list)


def test_merge_of_an_unmergeable_artifact_is_refused_before_a_job(arts):
    from studio.jobs import JobManager
    from studio.merge.spec import merge_spec

    with pytest.raises(StudioError, match="cannot be folded into the base weights"):
        merge_spec([arts["adapter"]])
    manager = JobManager(arts["ws"])
    with pytest.raises(StudioError, match="cannot be folded"):
        manager.submit("merge", {"mode": "merge", "adapter": arts["moe_lora"]}, start=False)
    assert manager.list(kind="merge") == []


def test_studio_written_artifacts_chat_on_the_transformers_engine(arts, tiny_model):
    """A mixed batch (base, bottleneck adapter, LoRA) answers each row with its own model."""
    from studio.infer.base import Sampling, adapter_rank
    from studio.infer.transformers_engine import TransformersEngine
    from studio.merge.artifacts import load_trained

    engine = TransformersEngine(str(tiny_model), device="cpu", dtype="float32")
    try:
        for name in ("adapter", "moe_lora", "lora"):
            engine.add_adapter(name, arts[name])
        assert set(engine.adapters()) == {"adapter", "moe_lora", "lora"}
        chat = [[{"role": "user", "content": "Who are you?"}]] * 4
        out = engine.generate(chat, Sampling(max_tokens=6), [None, "adapter", "lora", "moe_lora"])
        assert len(out) == 4 and all(isinstance(c.text, str) for c in out)
        alone = engine.generate(chat[:1], Sampling(max_tokens=6), "adapter")[0]
        assert alone.text == out[1].text  # the same answer in a mixed batch and alone
        model, tok = load_trained(arts["adapter"])  # and the same as the artifact loaded by hand
        enc = tok.apply_chat_template(chat[0], add_generation_prompt=True, return_tensors="pt", return_dict=True)
        ids = model.generate(**enc, max_new_tokens=6, do_sample=False)[0][enc["input_ids"].shape[1]:]
        assert tok.decode(ids, skip_special_tokens=True).strip() == alone.text
    finally:
        engine.close()
    assert adapter_rank(arts["adapter"]) == 0 and adapter_rank(arts["lora"]) == 16


def test_serve_and_eval_specs_refuse_up_front(arts, tmp_path):
    from studio.eval.spec import build
    from studio.infer.spec import serve_spec

    assert serve_spec("tiny-random-llama", {"a": arts["adapter"]}).engine == "auto"
    with pytest.raises(StudioError, match="not a LoRA adapter, so vLLM cannot load it"):
        serve_spec("tiny-random-llama", {"a": arts["adapter"]}, engine="vllm")
    with pytest.raises(StudioError, match="not a trained artifact"):
        serve_spec("tiny-random-llama", {"a": str(tmp_path)})
    data = {"path": str(SAMPLES / "identity_alpaca.jsonl")}
    assert build({"model": "tiny-random-llama", "adapter": arts["moe_lora"], "data": data}).adapter
    with pytest.raises(StudioError, match="vLLM cannot load"):
        build({"model": "tiny-random-llama", "adapter": arts["moe_lora"], "data": data, "engine": "vllm"})


def test_eval_loss_of_a_studio_written_artifact(arts):
    from studio.eval.runner import losses_all, load_examples
    from studio.eval.spec import build

    spec = build({"model": "tiny-random-llama", "adapter": arts["adapter"], "engine": "transformers",
                  "data": {"path": str(SAMPLES / "identity_alpaca.jsonl"), "limit": 3}})
    examples, _how = load_examples(spec.data, None)
    losses = losses_all(spec, examples[:3], lambda *_a: None)
    assert len(losses["base"]) == len(losses["tuned"]) == 3 and losses["base"] != losses["tuned"]


def test_prompt_adapters_chat_in_mixed_batches_and_evaluate(arts, tiny_model):
    """peft cannot mix prompt-learning adapters in one batch: the engine splits it; the loss skips the
    virtual tokens they prepend."""
    from studio.eval.runner import load_examples, losses_all
    from studio.eval.spec import build
    from studio.infer.base import Sampling
    from studio.infer.transformers_engine import TransformersEngine

    engine = TransformersEngine(str(tiny_model), device="cpu", dtype="float32")
    try:
        engine.add_adapter("pt", arts["prompt_tuning"])
        engine.add_adapter("lora", arts["lora"])
        chat = [[{"role": "user", "content": "Who are you?"}]] * 3
        out = engine.generate(chat, Sampling(max_tokens=4), [None, "pt", "lora"])
        assert [c.text for c in out] == [engine.generate(chat[:1], Sampling(max_tokens=4), n)[0].text
                                         for n in (None, "pt", "lora")]
    finally:
        engine.close()
    spec = build({"model": "tiny-random-llama", "adapter": arts["prompt_tuning"], "engine": "transformers",
                  "data": {"path": str(SAMPLES / "identity_alpaca.jsonl"), "limit": 2}})
    examples, _how = load_examples(spec.data, None)
    losses = losses_all(spec, examples[:2], lambda *_a: None)
    assert len(losses["tuned"]) == 2 and losses["tuned"] != losses["base"]


def test_merge_of_bitfit_runs_and_is_verified(arts, tmp_path):
    from studio.merge.runner import merge_artifact

    report = merge_artifact(arts["bitfit"], Path(tmp_path) / "merged")
    assert report["verification"]["within_tolerance"] and report["method"] == "bitfit"
