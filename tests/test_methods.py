"""Every fine-tuning method trains on the tiny model through the real recipe.

For each method: the loss falls, only the intended parameters change, the trainable count matches
what the UI shows (`count_trainable`) and `params.json`, and the saved artifact, loaded onto a fresh
base with `method.load`, gives the trained model's logits. The runs use the same 4 rows every step
(`max_rows: 4`, batch 4), so "the loss falls" compares the same batch at the first and last step.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from conftest import tiny_spec, train_inline
from studio import methods
from studio.errors import StudioError
from studio.methods.params import count_trainable
from studio.spec import build_spec

TINY = "tiny-random-llama"

# id -> (method, method_args, training overrides, logits tolerance)
CASES = {
    "lora": ("lora", {"r": 8, "alpha": 16}, {}, 1e-4),
    "lora-rslora": ("lora", {"r": 8, "alpha": 16, "rslora": True}, {}, 1e-4),
    "lora-pissa": ("lora", {"r": 8, "alpha": 16, "init": "pissa"}, {}, 1e-4),
    "lora-olora": ("lora", {"r": 8, "alpha": 16, "init": "olora"}, {}, 1e-4),
    "qlora-nf4-adamw8bit": ("qlora", {"r": 8, "alpha": 16}, {"optimizer": "adamw_8bit"}, 1e-4),
    "qlora-fp4": ("qlora", {"r": 8, "alpha": 16, "quant_type": "fp4", "double_quant": False}, {}, 1e-4),
    "qlora-8bit": ("qlora", {"r": 8, "alpha": 16, "bits": 8}, {}, 1e-4),
    "dora": ("dora", {"r": 8, "alpha": 16}, {}, 1e-4),
    "loraplus": ("loraplus", {"r": 8, "alpha": 16, "lr_ratio": 8}, {"learning_rate": 2e-3}, 1e-4),
    "adalora": ("adalora", {"init_r": 8, "target_r": 4}, {"learning_rate": 2e-2}, 1e-4),
    "vera": ("vera", {"r": 32}, {"learning_rate": 5e-2}, 1e-4),
    "ia3": ("ia3", {}, {"learning_rate": 5e-2}, 1e-4),
    "prompt_tuning": ("prompt_tuning", {"virtual_tokens": 8}, {"learning_rate": 1e-1}, 1e-4),
    "p_tuning": ("p_tuning", {"virtual_tokens": 8, "encoder_hidden_size": 32}, {"learning_rate": 2e-2}, 1e-4),
    "prefix_tuning": ("prefix_tuning", {"virtual_tokens": 8, "encoder_hidden_size": 32}, {"learning_rate": 2e-2},
                      1e-4),
    "p_tuning_v2": ("p_tuning_v2", {"virtual_tokens": 8}, {"learning_rate": 5e-2}, 1e-4),
    "adapter": ("adapter", {"bottleneck": 16}, {}, 1e-4),
    "bitfit": ("bitfit", {}, {"learning_rate": 5e-2}, 1e-4),
    "selective": ("selective", {"layers": "1", "modules": "mlp"}, {"learning_rate": 1e-2}, 1e-4),
    "selective-galore": ("selective", {"layers": "0,1", "modules": "all"},
                         {"learning_rate": 1e-2, "optimizer": "galore_adamw",
                          "optim_args": "rank=8, update_proj_gap=2, scale=1.0"}, 1e-4),
    "sparse": ("sparse", {"fraction": 0.05, "mask_batches": 2}, {"learning_rate": 2e-2}, 1e-4),
    "full": ("full", {}, {"learning_rate": 2e-3}, 1e-4),
    "full-galore": ("full", {}, {"learning_rate": 2e-3, "optimizer": "galore_adamw",
                                 "optim_target_modules": "q_proj,v_proj,up_proj,down_proj",
                                 "optim_args": "rank=8, update_proj_gap=2"}, 1e-4),
    "moe_lora": ("moe_lora", {"experts": 3, "r": 4, "alpha": 8, "top_k": 2}, {}, 1e-4),
}

# methods whose artifact cannot be folded into the base weights (they add inputs or non-linear blocks)
UNMERGEABLE = {"prompt_tuning", "p_tuning", "prefix_tuning", "p_tuning_v2", "adapter", "moe_lora"}


def test_every_method_has_a_case():
    assert {case[0] for case in CASES.values()} == set(methods.REGISTRY.names())


@pytest.mark.parametrize("method_name", methods.REGISTRY.names())
def test_method_texts_are_bilingual(method_name):
    from studio.config import help_text

    m = methods.REGISTRY.get(method_name)
    for which in ("title", "summary", "when_to_use"):
        assert getattr(m, which)["en"].strip() and getattr(m, which)["zh"].strip(), (method_name, which)
    for field in m.config.model_fields:
        assert help_text(m.config, field, "en") != field and help_text(m.config, field, "zh") != field


class Spy:
    """Sees the model a real run wraps and saves, by wrapping the registered method's hooks."""

    def __init__(self, method):
        self.method = method
        self.initial: dict[str, torch.Tensor] = {}
        self.trained = None

    def wrap(self, model, cfg):
        model = self.method.wrap(model, cfg)
        self.initial = {n: p.detach().clone() for n, p in model.named_parameters()}
        return model

    def save(self, model, folder):
        self.trained = model
        self.method.save(model, folder)

    def patched(self):
        return dataclasses.replace(self.method, wrap=self.wrap, save=self.save)


def probe(tokenizer) -> dict:
    texts = ["What is your name?", "Tell me about the sea in one sentence."]
    return tokenizer(texts, return_tensors="pt", padding=True)


def logits(model, batch) -> torch.Tensor:
    """Logits at the input positions (prompt tuning also returns some for its virtual tokens)."""
    model.eval()
    with torch.inference_mode():
        return model(**batch).logits.float()[:, -batch["input_ids"].shape[1]:]


def as_loaded(model):
    """trl keeps the LoRA weights of a quantised model in bf16; peft reloads the same values as fp32.
    Compare like with like: the trained values, computed in fp32."""
    for p in model.parameters():
        if p.requires_grad and p.dtype == torch.bfloat16:
            p.data = p.data.float()
    return model


def losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r["loss"] for r in rows if "loss" in r]


def train_case(workspace, identity_data, monkeypatch, method_name, args, training):
    spec = tiny_spec(identity_data, **{"max_steps": 6, "batch_size": 4, "max_length": 64, "save_steps": 6,
                                       "learning_rate": 1e-2, **training})
    spec.update(method=method_name, method_args=args)
    spec["data"]["max_rows"] = 4
    spy = Spy(methods.REGISTRY.get(method_name))
    with monkeypatch.context() as m:
        m.setitem(methods.REGISTRY._load(), method_name, spy.patched())
        run_dir, artifacts = train_inline(workspace, spec)
    return run_dir, artifacts, spy, build_spec(spec)


# AdaLoRA's rank allocator may prune a layer's singular values (lora_E) back to exactly zero, their start
PRUNABLE = {"adalora": "lora_E"}


def check_changes(spy, method_name) -> None:
    """Frozen parameters are bit-identical to their value after wrapping; trained ones all moved."""
    model = spy.trained
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, "nothing was trainable"
    pruned = 0
    for name, p in model.named_parameters():
        before = spy.initial[name]
        if name in trainable:
            if PRUNABLE.get(method_name, "-") in name:
                pruned += int((p.detach() == 0).sum())
                if not p.detach().any():
                    continue
            assert not torch.equal(before, p.detach()), f"{method_name}: trainable {name} did not change"
        else:
            assert torch.equal(before, p.detach()), f"{method_name}: frozen {name} changed"
    if method_name in PRUNABLE:
        assert pruned > 0, "AdaLoRA pruned no singular value although target_r < init_r"


@pytest.mark.parametrize("case", list(CASES))
def test_method_trains_and_reloads(case, workspace, identity_data, monkeypatch, tmp_path):
    from studio.models import resolve
    from studio.models.loading import load_model, load_tokenizer

    method_name, args, training, tolerance = CASES[case]
    method = methods.REGISTRY.get(method_name)
    run_dir, artifacts, spy, spec = train_case(workspace, identity_data, monkeypatch, method_name, args, training)

    seen = losses(run_dir)
    assert len(seen) >= 6 and seen[-1] < seen[0] - 0.02, f"{case}: loss did not fall: {seen}"

    params = json.loads((run_dir / "params.json").read_text())
    shown_trainable, shown_total = count_trainable(TINY, method_name, spec.method_args)
    actual = sum(p.numel() for p in spy.trained.parameters() if p.requires_grad)
    assert params["trainable"] == shown_trainable == actual
    if method_name != "qlora":  # bitsandbytes packs two 4-bit weights per element, so totals differ
        assert params["total"] == shown_total

    check_changes(spy, method_name)

    folder = artifacts.get("adapter") or artifacts.get("model")
    info = json.loads((run_dir / (("adapter" if method.artifact == "adapter" else "model")) / "studio_run.json")
                      .read_text())
    assert info["method"] == method_name
    ref = resolve(TINY)
    tokenizer = load_tokenizer(ref)
    batch = probe(tokenizer)
    expected = logits(as_loaded(spy.trained), batch)
    def fresh_base():
        return load_model(ref, "auto", "cpu", **method.load_kwargs(spec.method_config(), "cpu"))

    # a separate base: bitsandbytes repacks 4-bit weights for its CPU inference kernel on the first forward
    untouched = logits(fresh_base(), batch)
    loaded = method.load(fresh_base(), folder)
    got = logits(loaded, batch)
    assert (expected - untouched).abs().max() > 10 * tolerance, f"{case}: training did not change the outputs"
    assert torch.allclose(got, expected, atol=tolerance, rtol=0), \
        f"{case}: reloaded logits differ by {(got - expected).abs().max():.2e}"

    if method_name in UNMERGEABLE:
        with pytest.raises(StudioError, match="cannot be folded"):
            method.merge(loaded)
    elif method_name != "qlora":  # merging into a 4-bit base rounds; the merge job reports that difference
        check_merge(method.merge(loaded), batch, expected, tmp_path, method_name, spec)


def check_merge(merged, batch, expected, tmp_path, method_name, spec) -> None:
    """The merged model is a plain transformers model that saves, reloads and answers like the trained one.

    (BitFit on Llama adds biases the architecture did not have: the merged config must switch them on.)
    """
    from transformers import AutoModelForCausalLM

    from studio.methods._tuned import linear_modules
    from studio.models import resolve
    from studio.models.loading import load_model

    assert not any(n for n, _ in merged.named_modules() if "studio_" in n or "lora_" in n)
    merged.save_pretrained(tmp_path / "merged")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert torch.allclose(logits(again, batch), expected, atol=1e-4, rtol=0)
    if method_name == "sparse":  # at most the chosen fraction of each targeted matrix differs from the base
        base = dict(load_model(resolve(TINY)).named_parameters())
        targets = {f"{n}.weight" for n in linear_modules(again, spec.method_args["target_modules"])}
        for name, p in again.named_parameters():
            changed = int((p.detach() != base[name].detach()).sum())
            allowed = round(p.numel() * spec.method_args["fraction"]) if name in targets else 0
            assert changed <= allowed and (changed > 0) == (name in targets), (name, changed, allowed)


def sparse_index(model) -> dict:
    return {n: b.clone() for n, b in model.named_buffers() if n.endswith("studio_sparse.index")}


def pissa_residual(spy) -> dict:
    return {n: t for n, t in spy.initial.items() if "base_layer" in n}


@pytest.mark.parametrize("method_name, args, same_start", [
    # the randomised SVD runs under a fixed seed, so the resumed run rebuilds the same residual base
    ("lora", {"r": 8, "alpha": 16, "init": "pissa"},
     lambda spies: (pissa_residual(spies[0]), pissa_residual(spies[1]))),
    # the chosen entries come back from the checkpoint, not from a new pick
    ("sparse", {"fraction": 0.05, "mask_batches": 1},
     lambda spies: (sparse_index(spies[0].trained), sparse_index(spies[1].trained))),
])
def test_interrupted_run_resumes_and_saves_a_faithful_artifact(method_name, args, same_start, workspace,
                                                               identity_data, monkeypatch):
    from studio.jobs.context import JobContext
    from studio.jobs.events import Events
    from studio.jobs.store import Job
    from studio.models import resolve
    from studio.models.loading import load_model, load_tokenizer
    from studio.train.runner import train

    raw = tiny_spec(identity_data, max_steps=2, batch_size=4, max_length=64, save_steps=2, learning_rate=1e-2)
    raw.update(method=method_name, method_args=args)
    raw["data"]["max_rows"] = 4
    run_dir = workspace.new_run_dir(method_name, "run")
    job = Job(id=f"inline-{method_name}", kind="train", spec=raw, state="running", pool="compute",
              run_dir=str(run_dir), created_at=0.0, updated_at=0.0)
    spies = []
    for steps in (2, 4):  # the second call finds checkpoint-2 and continues from it
        raw["training"]["max_steps"] = steps
        spies.append(Spy(methods.REGISTRY.get(method_name)))
        with monkeypatch.context() as m:
            m.setitem(methods.REGISTRY._load(), method_name, spies[-1].patched())
            artifacts = train(build_spec(raw), JobContext(job=job, workspace=workspace, events=Events(run_dir)))
    assert json.loads((run_dir / "summary.json").read_text())["resumed_from"] == "checkpoint-2"
    first, second = same_start(spies)
    assert first and first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    ref = resolve(TINY)
    batch = probe(load_tokenizer(ref))
    loaded = methods.REGISTRY.get(method_name).load(load_model(ref), artifacts["adapter"])
    assert torch.allclose(logits(loaded, batch), logits(spies[1].trained, batch), atol=1e-4, rtol=0)


# ---------------------------------------------------------------- invalid combinations

def spec_with(method, method_args=None, **training):
    raw = tiny_spec("data.jsonl", **training)
    raw.update(method=method, method_args=method_args or {})
    return raw


@pytest.mark.parametrize("raw, problem, alternative", [
    (spec_with("qlora", {"init": "pissa"}), "PiSSA", "init: default"),
    (spec_with("dora", {"init": "olora"}), "DoRA cannot start from PiSSA/OLoRA", "init: default"),
    (spec_with("lora", optimizer="galore_adamw"), "trains no whole matrices", "full or selective"),
    (spec_with("sparse", optimizer="galore_adamw_8bit"), "trains no whole matrices", "full or selective"),
    (spec_with("prefix_tuning", packing=True), "packing", "packing: false"),
    (spec_with("prompt_tuning", packing=True), "packing", "packing: false"),
    (spec_with("prefix_tuning", gradient_checkpointing=True), "gradient_checkpointing",
     "gradient_checkpointing: false"),
    (spec_with("p_tuning_v2", gradient_checkpointing=True), "key/value cache off", "prompt_tuning / LoRA"),
    (spec_with("adalora", {"init_r": 4, "target_r": 8}), "target_r=8 is larger than init_r=4", "at most init_r"),
    (spec_with("moe_lora", {"experts": 2, "top_k": 3}), "top_k=3 is more than experts=2", "at most"),
    (spec_with("ia3", {"target_modules": "k_proj,v_proj"}), "together", "feedforward_modules"),
    (spec_with("lora", optim_args="rank 128"), "key=value", "rank=128"),
    ({**spec_with("qlora", optimizer="paged_adamw_8bit"), "resources": {"device": "cpu"}},
     "pages optimizer state out of GPU memory", "use adamw_8bit on the CPU"),
])
def test_invalid_combinations_are_refused(raw, problem, alternative):
    with pytest.raises(StudioError) as err:
        build_spec(raw)
    message = str(err.value)
    assert "\n" not in message and problem in message and alternative in message


def test_paged_optimizer_is_refused_when_the_run_lands_on_the_cpu(tmp_path):
    """device auto on a machine without a GPU: refused when the training arguments are built."""
    from studio.train.args import training_args

    spec = build_spec(spec_with("qlora", optimizer="paged_adamw_32bit"))
    with pytest.raises(StudioError, match="paged_adamw_32bit pages optimizer state.*use adamw_torch"):
        training_args(spec, tmp_path, "cpu", has_eval=False)
    assert training_args(spec, tmp_path, "cuda", has_eval=False)["optim"] == "paged_adamw_32bit"


def test_prefix_tuning_refuses_models_without_a_cache_in_every_layer(tmp_path):
    folder = tmp_path / "hybrid"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen3_next", "num_hidden_layers": 2,
                                                    "layer_types": ["linear_attention", "full_attention"]}))
    for name in ("prefix_tuning", "p_tuning_v2"):
        raw = spec_with(name)
        raw["model"]["name"] = str(folder)
        with pytest.raises(StudioError, match="linear_attention.*choose prompt_tuning or LoRA"):
            build_spec(raw)


def test_selective_refuses_layers_the_model_lacks():
    with pytest.raises(StudioError, match="layer 5 does not exist.*0 to 1"):
        count_trainable(TINY, "selective", {"layers": "5"})
    with pytest.raises(StudioError, match="select no weights"):
        count_trainable(TINY, "selective", {"modules": "nonexistent"})


def test_bitfit_without_biases_to_add_is_refused():
    with pytest.raises(StudioError, match="no bias terms.*add_missing_biases"):
        count_trainable(TINY, "bitfit", {"add_missing_biases": False})
