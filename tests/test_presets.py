"""Every preset validates, describes itself in both languages, loads through `studio train --preset`
argument building (with the user's own --model / --data), and fits the hardware it names."""

from __future__ import annotations

import re

import pytest

from studio.cli import _parser
from studio.cli.estimate import preset_hardware
from studio.cli.train import build_raw
from studio.presets import BUILTIN, list_presets
from studio.spec import build_spec

PRESETS = sorted(p.stem for p in BUILTIN.glob("*.yaml"))
EXPECTED = {"cpu-lora-sft", "cpu-qlora-sft", "cpu-full-sft", "cpu-dpo", "grpo-cpu", "qlora-7b-24gb", "lora-7b-a100",
            "full-sft-8gpu"}


def test_the_preset_set():
    assert EXPECTED <= set(PRESETS)
    assert {p.name for p in list_presets()} >= EXPECTED


@pytest.mark.parametrize("name", PRESETS)
def test_preset_validates_and_describes_itself(name):
    preset = {p.name: p for p in list_presets()}[name]
    spec = build_spec(preset.spec, source=f"preset {name}")
    assert preset.hardware
    assert len(preset.text("en")) > 40 and re.search(r"[\u4e00-\u9fff]", preset.text("zh"))
    if spec.resources.device == "cuda":
        stated = preset_hardware(name, None)
        assert stated.get("gpu_memory"), f"{name}: a GPU preset states its GPU memory"
        assert int(stated.get("gpus", 1)) == spec.resources.num_gpus


@pytest.mark.parametrize("name", PRESETS)
def test_studio_train_preset_with_the_users_model_and_data(name, tmp_path, identity_data):
    args = _parser().parse_args(["train", "--preset", name, "--model", "my-org/My-Model-7B", "--data",
                                 str(identity_data), "--set", "max_steps=3"])
    raw, source = build_raw(args, tmp_path)
    spec = build_spec(raw, args.overrides, source=source)
    assert spec.model.name == "my-org/My-Model-7B" and spec.data.path == str(identity_data)
    assert spec.training.max_steps == 3


@pytest.mark.parametrize("name", PRESETS)
def test_preset_fits_its_stated_hardware(name, tmp_path):
    """GPU presets against the memory they name; CPU presets against this machine's free RAM."""
    from studio.estimate import estimate, named_hardware

    preset = {p.name: p for p in list_presets()}[name]
    spec = build_spec(preset.spec, source=f"preset {name}")
    stated = preset_hardware(name, None)
    hardware = named_hardware(stated["gpu_memory"], int(stated.get("gpus", 1))) if stated else None
    result = estimate(spec, tmp_path, hardware, quick=True)
    assert result.verdict == "fits", result.report()
