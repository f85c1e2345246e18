"""Pickled adapters are refused before torch sees them (issue 14, item 4).

The adapter here is a real LoRA adapter of the tiny model saved as a pickle (`adapter_model.bin`),
with a payload that would create a file if it were ever unpickled.
"""

from __future__ import annotations

import json
import os
import pickle

import pytest

from studio.errors import StudioError
from studio.models.safety import check_adapter


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def pickled_adapter(tmp_path, tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    folder = tmp_path / "adapter"
    model.save_pretrained(folder, safe_serialization=False)
    assert (folder / "adapter_model.bin").is_file() and not list(folder.glob("*.safetensors"))
    marker = tmp_path / "pwned"
    with (folder / "adapter_model.bin").open("wb") as f:
        pickle.dump({"x": Payload(marker)}, f)
    (folder / "studio_run.json").write_text(json.dumps({"method": "lora", "base_model": str(tiny_model)}))
    return folder, marker


@pytest.fixture
def torch_loads(monkeypatch):
    """Record every torch.load call (then let it run): the refusal must come before any."""
    import torch

    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get("f"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return calls


def test_check_refuses_pickles_in_one_sentence_en_and_zh(pickled_adapter):
    folder, marker = pickled_adapter
    with pytest.raises(StudioError) as info:
        check_adapter(folder)
    assert "adapter_model.bin" in info.value.one_line() and "weights_only" not in info.value.one_line()
    assert "pickle" in info.value.one_line("zh") and "适配器" in info.value.one_line("zh")
    assert check_adapter(folder, allow_pickle=True) == folder  # the user's opt-in for this path
    assert not marker.exists()


def test_user_allows_pickles_for_a_folder_only(pickled_adapter, monkeypatch, tmp_path):
    folder, marker = pickled_adapter
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("STUDIO_ALLOW_PICKLE", str(other))
    with pytest.raises(StudioError):
        check_adapter(folder)  # allowing another folder allows nothing here
    monkeypatch.setenv("STUDIO_ALLOW_PICKLE", f"{other}{os.pathsep}{folder.parent}")
    assert check_adapter(folder) == folder  # a parent folder the user listed
    assert not marker.exists()


def test_safetensors_next_to_a_pickle_is_fine(tmp_path):
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    (tmp_path / "adapter_model.bin").write_bytes(b"")
    assert check_adapter(tmp_path) == tmp_path


def test_checkpoint_training_state_is_not_mistaken_for_weights(tmp_path):
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"):
        (tmp_path / name).write_bytes(b"")
    assert check_adapter(tmp_path) == tmp_path
    (tmp_path / "adapter_model.pth").write_bytes(b"")
    with pytest.raises(StudioError, match="adapter_model.pth"):
        check_adapter(tmp_path)


def test_peft_method_load_refuses_before_torch(pickled_adapter, torch_loads, tiny_model):
    from transformers import AutoModelForCausalLM

    from studio.methods import REGISTRY

    folder, marker = pickled_adapter
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    with pytest.raises(StudioError, match="pickle weights"):
        REGISTRY.get("lora").load(base, folder)  # chat / merge / load_trained go through this
    assert not [c for c in torch_loads if "adapter" in str(c)] and not marker.exists()


def test_chat_engine_refuses_before_torch(pickled_adapter, torch_loads, tiny_model):
    from studio.infer.transformers_engine import TransformersEngine

    folder, marker = pickled_adapter
    engine = TransformersEngine(str(tiny_model), device="cpu", dtype="float32")
    with pytest.raises(StudioError, match="pickle weights"):
        engine.add_adapter("mine", str(folder))
    assert not [c for c in torch_loads if "adapter" in str(c)] and not marker.exists()
    assert engine.adapters() == {}
