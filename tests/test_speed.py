"""Issue 10, speed: the optimisations the studio applies by default compute the same training.

Padding-free SFT batches give the same loss as padded batches on the same rows; the decision is off
wherever it would be wrong (rows cut at max_length, packing, prompt learning, attention that cannot keep
rows apart, other stages). Speed itself is measured in bench/train_speed.py, never asserted here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import tiny_spec, train_inline

from studio.spec import build_spec
from studio.train import args as train_args


def _losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r["loss"] for r in rows if "loss" in r]


def test_padding_free_gives_the_loss_of_padded_batches(workspace, identity_data, tiny_model, monkeypatch, capsys):
    spec = tiny_spec(identity_data, precision="fp32", max_steps=4, save_steps=100)
    free_dir, _ = train_inline(workspace, spec, "free")
    assert "padding-free batches" in capsys.readouterr().out  # the run's log says so
    monkeypatch.setattr(train_args, "padding_free", lambda *a, **k: False)
    padded_dir, _ = train_inline(workspace, spec, "padded")
    assert "padding-free batches" not in capsys.readouterr().out
    free, padded = _losses(free_dir), _losses(padded_dir)
    assert len(free) == len(padded) >= 4
    assert free == pytest.approx(padded, rel=1e-4, abs=1e-5)  # same rows, same steps, same numbers


def test_padding_free_batches_carry_no_pad_and_restart_positions(tiny_model):
    """The collator trl builds for the decision: one row of tokens, positions restart at every example."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = Dataset.from_list([{"prompt": [{"role": "user", "content": "hi " * n}],
                               "completion": [{"role": "assistant", "content": "ok"}]} for n in (1, 5, 9)])
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    cfg = SFTConfig(output_dir="/tmp/unused-speed-test", padding_free=True, max_length=None, report_to="none",
                    use_cpu=True, per_device_train_batch_size=3)
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=rows, processing_class=tok)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    lengths = [len(trainer.train_dataset[i]["input_ids"]) for i in range(3)]
    assert batch["input_ids"].shape[1] == sum(lengths)  # no pad token anywhere
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert starts == [0, lengths[0], lengths[0] + lengths[1]]


def _spec(**training):
    raw = tiny_spec("", **training)
    return build_spec(raw)


@pytest.mark.parametrize("stage, attention, longest, training, want", [
    ("sft", "sdpa", 60, {}, True),
    ("sft", "eager", 60, {}, True),
    ("sft", "flash_attention_2", 120, {"batch_size": 64}, True),  # varlen: no mask over the whole batch
    ("sft", "sdpa", 129, {}, False),                   # a row longer than max_length=128 must still be cut
    ("sft", "sdpa", 0, {}, False),                     # no length report
    ("sft", "sdpa", 60, {"packing": True}, False),     # packing brings its own padding-free collation
    ("sft", "sdpa", 60, {"batch_size": 1}, False),     # nothing to save
    ("sft", "sdpa", 120, {"batch_size": 64}, True),    # sdpa runs row by row: no mask over the whole batch
    ("sft", "eager", 120, {"batch_size": 64}, False),  # one masked sequence of 7680 tokens: attention would grow
    ("sft", "some_kernel", 60, {}, False),             # an attention we do not know keeps rows apart
    ("dpo", "sdpa", 60, {}, False),
])
def test_padding_free_decision(stage, attention, longest, training, want):
    assert train_args.padding_free(_spec(**training), stage, attention, longest) is want


def test_rows_longer_than_max_length_keep_padded_batches(workspace, identity_data, tiny_model, capsys):
    run_dir, _ = train_inline(workspace, tiny_spec(identity_data, max_length=40, max_steps=1, save_steps=100))
    assert "padding-free batches" not in capsys.readouterr().out
    assert json.loads((run_dir / "data_report.json").read_text())["truncated_rows"]


# ------------------------------------------------------------- bf16 frozen base on CPUs with native bf16

@pytest.mark.parametrize("bf16_cpu, precision, method, want", [
    (True, "auto", "lora", ("float32", "bfloat16")),    # auto: fp32 weights under bf16 autocast
    (True, "bf16", "lora", ("bfloat16", "bfloat16")),   # asked for bf16: frozen base in bf16 too
    (True, "fp32", "lora", ("float32", "float32")),     # asked for fp32: fp32 weights
    (False, "auto", "lora", ("float32", "float32")),    # no native bf16 on this CPU: nothing changes
    (True, "auto", "full", ("float32", "bfloat16")),    # the base is what trains: fp32 master weights
])
def test_cpu_weights_follow_native_bf16(monkeypatch, bf16_cpu, precision, method, want):
    from studio.train import precision as prec

    monkeypatch.setattr(prec, "cpu_has_bf16", lambda: bf16_cpu)
    raw = tiny_spec("", precision=precision)
    raw.update(method=method, method_args={})
    assert prec.plan(build_spec(raw), "cpu") == want


def test_bf16_base_trains_fp32_adapters_and_saves_them_fp32(workspace, identity_data, tiny_model, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from studio import methods
    from studio.models import TINY, resolve
    from studio.models.loading import load_model, upcast_trainable
    from studio.train import precision as prec

    spec = build_spec(tiny_spec(identity_data))
    model = methods.REGISTRY.get("lora").wrap(load_model(resolve(TINY), "bfloat16"), spec.method_config())
    upcast_trainable(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    assert all(p.dtype == torch.bfloat16 for p in frozen)

    monkeypatch.setattr(prec, "cpu_has_bf16", lambda: True)  # the run takes the bf16-base path on any CPU
    _, artifacts = train_inline(workspace, tiny_spec(identity_data, max_steps=2, save_steps=100, precision="bf16"))
    saved = load_file(str(next(Path(artifacts["adapter"]).glob("*.safetensors"))))
    assert saved and all(t.dtype == torch.float32 for t in saved.values())


def _packed(tiny_model, lengths):
    import torch

    torch.manual_seed(0)
    ids = torch.randint(3, 200, (1, sum(lengths)))
    positions = torch.cat([torch.arange(n) for n in lengths])[None]
    return ids, positions


def test_row_by_row_attention_gives_each_row_its_own_numbers(tiny_model):
    """Padding-free SDPA without the whole-batch mask: every packed row scores as if it were alone."""
    import torch
    from transformers import AutoModelForCausalLM

    from studio.train import packed_attention

    lengths = [7, 12, 5, 9]
    ids, positions = _packed(tiny_model, lengths)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32, attn_implementation="sdpa")
    with torch.no_grad():
        masked = model(input_ids=ids, position_ids=positions, use_cache=False).logits  # transformers' block mask
        assert packed_attention.use_for_training(model, print)
        rows = model(input_ids=ids, position_ids=positions, use_cache=False).logits
        alone = torch.cat([model(input_ids=part, use_cache=False).logits
                           for part in ids.split(lengths, dim=1)], dim=1)
        packed_attention.restore(model)
        assert model.config._attn_implementation == "sdpa"
    assert torch.allclose(rows, alone, atol=1e-5) and torch.allclose(rows, masked, atol=1e-5)
    assert not torch.allclose(rows[:, lengths[0]:], model(input_ids=ids, use_cache=False).logits[:, lengths[0]:],
                              atol=1e-3)  # the rows really are kept apart: one causal sequence differs


def test_lean_loss_equals_trls_loss_and_gradients(tiny_model):
    """The CPU loss (labelled positions only, stages/lean_loss.py) gives trl's loss and the same gradients."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from studio.stages import lean_loss

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = Dataset.from_list([{"prompt": [{"role": "user", "content": "hi " * n}],
                               "completion": [{"role": "assistant", "content": "ok " * (n % 4 + 1)}]}
                              for n in (1, 5, 9, 3)])
    results = []
    for cls in (SFTTrainer, lean_loss.trainer_class()):
        model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
        cfg = SFTConfig(output_dir="/tmp/unused-speed-test", padding_free=True, max_length=None, report_to="none",
                        use_cpu=True, per_device_train_batch_size=4)
        trainer = cls(model=model, args=cfg, train_dataset=rows, processing_class=tok)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
        model.train()
        loss = trainer.compute_loss(model, dict(batch))
        loss.backward()
        results.append((loss.item(), model.lm_head.weight.grad.clone(), trainer._metrics["train"]))
    (trl_loss, trl_grad, trl_metrics), (lean, lean_grad, lean_metrics) = results
    assert lean == pytest.approx(trl_loss, rel=1e-5)
    assert torch.allclose(lean_grad, trl_grad, atol=1e-6, rtol=1e-4)
    assert lean_metrics["mean_token_accuracy"] == pytest.approx(trl_metrics["mean_token_accuracy"])
    assert lean_metrics["entropy"] == pytest.approx(trl_metrics["entropy"], rel=1e-4)
    assert lean_metrics["num_tokens"] == trl_metrics["num_tokens"]


def test_lean_loss_steps_aside_for_prompt_learning(tiny_model):
    """Virtual tokens shift every position: prompt tuning keeps trl's own loss."""
    from peft import LoraConfig, PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.stages import lean_loss

    class Trainer:  # the attributes `applies` reads, as an SFTTrainer with default arguments has them
        aux_loss_enabled, compute_loss_func, label_smoother = False, None, None

        class args:
            loss_type = "nll"

    inputs = {"input_ids": None, "labels": None}
    prompt = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                            PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model), LoraConfig(task_type="CAUSAL_LM"))
    assert not lean_loss.applies(Trainer, prompt, inputs, False)
    assert lean_loss.applies(Trainer, lora, inputs, False)
    assert not lean_loss.applies(Trainer, lora, inputs, True)  # a caller that wants the outputs


def _lora_bf16(tiny_model, **lora_args):
    """The tiny Llama as the CPU default trains it: bf16 base, fp32 LoRA (B random, so A gets gradients)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.models.loading import upcast_trainable

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules="all-linear",
                                             init_lora_weights=False, **lora_args))
    upcast_trainable(model)
    return model


def _step(model, ids):
    """Logits and the LoRA gradients of one autocast step."""
    import torch

    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(input_ids=ids, use_cache=False).logits
    logits.float().pow(2).mean().backward()
    return logits.detach().float(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_fused_lora_step_is_as_exact_as_pefts(tiny_model):
    """train/fused_lora.py computes peft's forward + autograd: against the same step on a fp32 base, its
    logits and every LoRA gradient are as close as peft's own bf16 step is (bf16 rounding, ~4%)."""
    import torch
    from peft.tuners.lora import Linear

    from studio.train import fused_lora

    ids, _ = _packed(tiny_model, [20, 11])
    exact = _lora_bf16(tiny_model)
    exact.base_model.model.to(torch.float32)
    exact_logits, exact_grads = _step(exact, ids)
    model = _lora_bf16(tiny_model)
    peft_logits, peft_grads = _step(model, ids)
    layers = [m for m in model.modules() if isinstance(m, Linear)]
    assert fused_lora.install(model) == len(layers) > 0
    fused_logits, fused_grads = _step(model, ids)

    def off(a, b):
        return float((a - b).norm() / b.norm())

    assert off(fused_logits, exact_logits) <= 1.5 * off(peft_logits, exact_logits) + 1e-3
    assert fused_grads.keys() == peft_grads.keys() == exact_grads.keys()
    for name, grad in fused_grads.items():
        assert grad.dtype == torch.float32, name
        assert off(grad, exact_grads[name]) <= 1.5 * off(peft_grads[name], exact_grads[name]) + 0.01, name
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        with model.disable_adapter():  # a reference model (DPO): the base, as the policy computes it at B = 0
            reference = model(input_ids=ids, use_cache=False).logits
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.zero_()
        assert torch.equal(reference, model(input_ids=ids, use_cache=False).logits)
    fused_lora.restore(model)
    assert all("forward" not in vars(m) for m in layers)  # peft's own forward again


def test_fused_lora_only_where_it_is_exact(tiny_model):
    """Not for a fp32 base, DoRA, LoRA dropout: those keep peft's forward."""
    import torch

    from studio.train import fused_lora

    assert fused_lora.install(_lora_bf16(tiny_model, use_dora=True)) == 0
    assert fused_lora.install(_lora_bf16(tiny_model, lora_dropout=0.1)) == 0
    fp32 = _lora_bf16(tiny_model)
    fp32.base_model.model.to(torch.float32)
    assert fused_lora.install(fp32) == 0


def test_fused_lora_keeps_a_young_adapters_small_update(tiny_model):
    """Why the adapter's part is added in fp32 (train/fused_lora.py): a young adapter (B near zero, as after
    the first steps) changes a layer's output by less than bf16 can hold on top of the base's output.
    The change it makes to the model's last hidden state must be the fp32 model's change, not bf16
    rounding noise (the logits themselves are bf16 under autocast in every tool)."""
    import torch

    from studio.train import fused_lora

    ids, _ = _packed(tiny_model, [24])

    def update(model, autocast=True):
        """The adapter's change of the last hidden state: B scaled to 1% of its start, minus B = 0."""
        def last():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return model(input_ids=ids, use_cache=False, output_hidden_states=True).hidden_states[-1].float()

        lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
        with torch.no_grad():
            for p in lora_b:
                p.mul_(1e-2)
        young = last()
        with torch.no_grad():
            for p in lora_b:
                p.zero_()
        return young - last()

    exact = _lora_bf16(tiny_model)
    exact.base_model.model.to(torch.float32)
    want = update(exact, autocast=False)
    fused = _lora_bf16(tiny_model)
    assert fused_lora.install(fused)
    off_peft = float((update(_lora_bf16(tiny_model)) - want).norm() / want.norm())
    off_fused = float((update(fused) - want).norm() / want.norm())
    # measured: fused 0.056, peft 0.125 (the rest of the fused error: bf16 attention and MLP inputs downstream)
    assert off_fused < 0.1 and off_fused < 0.6 * off_peft, (off_fused, off_peft)


def test_fused_lora_runs_sibling_projections_as_one_product(tiny_model, monkeypatch):
    """q/k/v (and gate/up) read one input: fused_lora runs them as one product on one shared weight tensor,
    with the numbers of each layer alone; a sibling called with another input still gets its own; after
    `restore` every weight is again a tensor of its own (savers take shared storage for tied weights)."""
    import torch

    from studio.train import fused_lora

    ids, _ = _packed(tiny_model, [20, 11])
    alone = _lora_bf16(tiny_model)
    monkeypatch.setattr(fused_lora, "SIBLINGS", ())
    count = fused_lora.install(alone)
    monkeypatch.undo()
    alone_logits, alone_grads = _step(alone, ids)

    model = _lora_bf16(tiny_model)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "base_layer" in n}
    assert fused_lora.install(model) == count > 0
    attn = model.base_model.model.model.layers[0].self_attn
    shared = {m.base_layer.weight.untyped_storage().data_ptr() for m in (attn.q_proj, attn.k_proj, attn.v_proj)}
    assert len(shared) == 1  # one tensor: one product
    logits, grads = _step(model, ids)

    def off(a, b):
        return float((a - b).norm() / b.norm())

    assert off(logits, alone_logits) < 1e-2
    for name, grad in grads.items():
        assert off(grad, alone_grads[name]) < 2e-2, name
    with torch.no_grad():
        x, other = torch.randn(2, 1, 5, attn.q_proj.in_features, dtype=torch.bfloat16)
        attn.q_proj(x)  # computes k and v for x too
        assert torch.equal(attn.k_proj(other), alone.base_model.model.model.layers[0].self_attn.k_proj(other))
    fused_lora.restore(model)
    ptrs = [m.base_layer.weight.untyped_storage().data_ptr() for m in (attn.q_proj, attn.k_proj, attn.v_proj)]
    assert len(set(ptrs)) == 3
    after = dict(model.named_parameters())
    assert all(torch.equal(after[n], p) for n, p in before.items())
