"""The memory and time estimate: its parts, which way it moves, refusals, the CLI, the UI panel, and
(slow) a real run's measured peak against it."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT, tiny_spec
from studio import estimate as est
from studio.errors import StudioError
from studio.spec import build_spec

CPU_8G = est.named_hardware("8GiB", device="cpu")


def spec_for(model="tiny-random-llama", method="lora", data=None, **training):
    raw = tiny_spec(data or "", **training)
    raw["model"]["name"] = model
    raw["method"] = method
    raw["method_args"] = {}
    return build_spec(raw)


def test_parts_add_up_and_are_reported(identity_data):
    e = est.estimate(spec_for(data=identity_data), hardware=CPU_8G)
    assert e.total == sum(e.parts.values())
    assert all(v >= 0 for v in e.parts.values())
    assert e.parts["weights"] > 0 and e.parts["activations"] > 0 and e.parts["overhead"] > 0
    assert e.verdict == "fits"
    # lengths come from the data through the model's tokenizer, never above max_length
    assert 0 < e.details["seq_len"] <= 128 and "tokenizer" in e.details["data_how"]
    text = e.report()
    assert "Weights" in text and "Activations" in text and "Fits" in text
    assert "权重" in e.report("zh")


def test_trainable_count_matches_the_method_tab(identity_data):
    from studio.methods.params import count_trainable

    e = est.estimate(spec_for(data=identity_data), hardware=CPU_8G)
    assert (e.details["trainable"], e.details["params"]) == count_trainable("tiny-random-llama", "lora", {})


def test_quantised_lora_and_full_order_on_the_embedded_model():
    """QLoRA < LoRA < full in total; 4-bit weights well under half of fp32 ones."""
    totals, weights = {}, {}
    for method in ("qlora", "lora", "full"):
        # fp32: on CPUs with native bf16, precision auto loads a frozen LoRA base in bf16 (train.precision)
        e = est.estimate(spec_for("smollm2-135m-instruct", method, batch_size=2, max_length=64, precision="fp32"),
                         hardware=CPU_8G)
        totals[method], weights[method] = e.total, e.parts["weights"]
    assert totals["qlora"] < totals["lora"] < totals["full"]
    assert weights["qlora"] < 0.5 * weights["lora"]
    assert weights["lora"] > weights["full"]  # the adapter adds to the untouched base


def test_checkpointing_lowers_and_batch_raises_activations():
    base = dict(model="smollm2-135m-instruct", max_length=256)
    plain = est.estimate(spec_for(**base, batch_size=4), hardware=CPU_8G)
    ckpt = est.estimate(spec_for(**base, batch_size=4, gradient_checkpointing=True), hardware=CPU_8G)
    bigger = est.estimate(spec_for(**base, batch_size=8), hardware=CPU_8G)
    assert ckpt.parts["activations"] < plain.parts["activations"] < bigger.parts["activations"]
    assert ckpt.parts["weights"] == plain.parts["weights"] == bigger.parts["weights"]


def test_optimizer_states_by_optimizer():
    tensors = [("w", (1024, 1024), 4), ("b", (1024,), 4)]
    adam = est.optimizer_bytes("adamw_torch", "", tensors)
    assert adam == 2 * (1024 * 1024 + 1024) * 4
    assert est.optimizer_bytes("paged_adamw_8bit", "", tensors) < adam / 3
    assert est.optimizer_bytes("sgd", "", tensors) == 0
    assert est.optimizer_bytes("sgd", "momentum=0.9", tensors) == adam // 2
    assert est.optimizer_bytes("galore_adamw", "rank=64", tensors) < adam / 2


def test_unknown_hub_model_uses_the_shape_named_by_its_size():
    cfg, source = est.model_config("some-org/Some-Model-7B-Instruct")
    assert "not downloaded" in source
    assert 6.5e9 < est.shape_params(cfg) < 8.5e9
    with pytest.raises(StudioError, match="Cannot read the config"):
        est.model_config("some-org/no-size-here")


def test_named_hardware_sizes():
    assert est.parse_size("24GiB") == est.parse_size("24 GB") == 24 * 2 ** 30
    assert est.parse_size("512MiB") == 512 * 2 ** 20
    with pytest.raises(StudioError):
        est.parse_size("lots")


def test_refusal_names_the_numbers_and_suggestions(identity_data):
    spec = spec_for("smollm2-135m-instruct", "full", data=identity_data, batch_size=8, max_length=256)
    small = est.named_hardware("2GiB", device="cpu")
    e = est.estimate(spec, hardware=small)
    assert e.verdict == "too_big" and e.suggestions
    assert [s.total for s in e.suggestions] == sorted(s.total for s in e.suggestions)
    assert all(s.total < e.total for s in e.suggestions)
    assert any("qlora" in s.text() for s in e.suggestions)
    with pytest.raises(StudioError) as refused:
        est.check(spec, hardware=small)
    message = refused.value.one_line()
    assert "needs about" in message and "try:" in message and "ignore_memory_check" in message
    allowed = spec.model_copy(update={"resources": spec.resources.model_copy(update={"ignore_memory_check": True})})
    warnings = est.check(allowed, hardware=small)
    assert warnings and "Does not fit" in warnings[0]


def test_preflight_refuses_a_run_this_machine_cannot_hold(workspace, identity_data, tiny_model):
    """The real start path (what the UI and `studio train` call): refused before any job exists."""
    from studio.runs import preflight

    raw = tiny_spec(identity_data, batch_size=4096, max_length=8192, packing=True)
    with pytest.raises(StudioError, match="ignore_memory_check"):
        preflight(build_spec(raw), workspace.root)
    raw["resources"] = {"ignore_memory_check": True}
    assert any("Does not fit" in w for w in preflight(build_spec(raw), workspace.root))
    assert not any("fit" in w for w in preflight(build_spec(tiny_spec(identity_data)), workspace.root))


def test_time_estimate_from_a_measured_probe(identity_data):
    spec = spec_for(data=identity_data, max_steps=10)
    e = est.estimate(spec)  # this machine: its free RAM and its matmul speed now
    assert e.hardware.device in ("cpu", "cuda") and e.hardware.memory > 0
    assert e.seconds_per_step > 0 and e.steps == 10 and e.eta_s == pytest.approx(10 * e.seconds_per_step)
    assert "GFLOP" in e.time_line()
    assert est.estimate(spec, hardware=CPU_8G).seconds_per_step is None  # hardware not here: no time


def test_stage_extra_models_count_a_reference_only_without_adapters():
    from studio.stages.base import StageMemory

    probe = est.estimate(spec_for(batch_size=2, max_length=32), hardware=CPU_8G).details["probe"]
    ref = StageMemory(reference=True)
    assert est.extra_models(spec_for(), ref, CPU_8G, probe) == 0  # lora: the adapter is switched off
    assert est.extra_models(spec_for(method="full"), ref, CPU_8G, probe) == probe.weights
    teacher = StageMemory(frozen_models=("",), trained_models=("",))
    assert est.extra_models(spec_for(), teacher, CPU_8G, probe) == 5 * probe.weights


def test_stages_declare_what_they_hold():
    """Preference stages double the sequences, GRPO multiplies them by its group, PPO keeps four models."""
    from studio import stages

    def spec_with(stage, method="lora", **stage_args):
        raw = tiny_spec("", batch_size=8, max_length=32)
        raw.update(stage=stage, method=method, method_args={}, stage_args=stage_args)
        return build_spec(raw)

    sft = est.estimate(spec_with("sft"), hardware=CPU_8G)
    dpo = est.estimate(spec_with("dpo", method="full"), hardware=CPU_8G)
    assert dpo.parts["activations"] > sft.parts["activations"]
    assert dpo.parts["extra_models"] == dpo.details["probe"].weights  # full fine-tuning: a reference copy
    assert stages.REGISTRY.get("orpo").memory(spec_with("orpo")).reference is False
    g4 = est.estimate(spec_with("grpo", num_generations=4, max_new_tokens=16), hardware=CPU_8G)
    g8 = est.estimate(spec_with("grpo", num_generations=8, max_new_tokens=16), hardware=CPU_8G)
    assert g8.parts["activations"] > g4.parts["activations"]
    ppo = stages.REGISTRY.get("ppo").memory(spec_with("ppo", reward_model="runs/rm"))
    assert ppo.reference and ppo.frozen_models and ppo.trained_models and ppo.generated_tokens == 64


def test_sparse_counts_its_dense_pick_gradients():
    lora = est.estimate(spec_for(), hardware=CPU_8G)
    sparse = est.estimate(spec_for(method="sparse"), hardware=CPU_8G)
    assert lora.parts.get("method_extra", 0) == 0 < sparse.parts["method_extra"]


def run_cli(capsys, *args) -> tuple[int, str]:
    from studio.cli import main

    code = main(["estimate", *args])
    return code, capsys.readouterr().out


def test_cli_prints_the_estimate_and_json(capsys, workspace, identity_data, tiny_model):
    code, out = run_cli(capsys, "--preset", "cpu-lora-sft", "--model", "tiny-random-llama", "--data",
                        str(identity_data), "--set", "batch_size=4")
    assert code == 0 and "Weights" in out and "per step" in out
    code, out = run_cli(capsys, "--preset", "cpu-lora-sft", "--model", "tiny-random-llama", "--json",
                        "--gpu-memory", "24GiB")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "fits" and data["available_bytes"] == 24 * 2 ** 30
    assert data["total_bytes"] == sum(data["parts_bytes"].values()) and data["hardware"]["device"] == "cuda"
    code, out = run_cli(capsys, "--preset", "cpu-full-sft", "--gpu-memory", "1GiB", "--lang", "zh")
    assert code == 3 and "放不下" in out


def test_ui_panel_renders_the_breakdown(workspace, tiny_model):
    from studio.jobs import JobManager
    from studio.ui import estimate_panel
    from studio.ui.context import Studio
    from studio.ui.i18n import Translator

    studio = Studio(workspace, JobManager(workspace), Translator("zh"))
    raw = {"model": {"name": "tiny-random-llama"}, "method": "lora"}
    bar, markdown = estimate_panel.render(studio, raw, "24GiB")
    assert bar.count("<div title=") >= 3 and "权重" in bar and "mem-limit" in bar
    assert "放得下" in markdown and "| 权重 |" in markdown
    _bar, error = estimate_panel.render(studio, raw, "lots")
    assert error.startswith("⚠️")


def _bench():
    spec = importlib.util.spec_from_file_location("bench_memory", ROOT / "bench" / "memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_lora_on_the_embedded_model_peak_rss_within_20_percent(embedded_model):
    """A real 4-step LoRA run of SmolLM2-135M in its own process: kernel-measured peak RSS vs estimate."""
    bench = _bench()
    spec = bench.bench_spec("lora", steps=4, batch=8)
    predicted = bench.estimate_for(spec)
    measured = bench.measure(spec)["peak_rss"]
    assert 0.8 <= predicted.total / measured <= 1.2, (predicted.total, measured)
