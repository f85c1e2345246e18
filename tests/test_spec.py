"""The run spec: one source of truth for UI, YAML and CLI; bad input gives one clear line."""

from __future__ import annotations

import pytest

from studio.errors import StudioError
from studio.presets import get_preset, list_presets
from studio.spec import build_spec, load_spec


def test_defaults_validate_and_round_trip_through_yaml(tmp_path):
    spec = build_spec({"data": {"path": "x.jsonl"}})
    assert spec.method == "lora" and spec.stage == "sft"
    assert spec.method_args["r"] == 16  # method defaults filled in from the registry
    path = tmp_path / "run.yaml"
    path.write_text(spec.to_yaml())
    assert load_spec(path) == spec


def test_set_uses_the_specs_own_names():
    spec = build_spec({}, ["max_steps=20", "learning_rate=5e-4", "batch_size=4", "save_steps=5", "seed=7",
                           "r=8", "method=lora", "stage=sft", "training.grad_accum=2"])
    t = spec.training
    assert (t.max_steps, t.learning_rate, t.batch_size, t.save_steps, t.seed, t.grad_accum) == (20, 5e-4, 4, 5, 7, 2)
    assert spec.method_args["r"] == 8


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("training:\n  max_step: 10\n")
    with pytest.raises(StudioError) as err:
        load_spec(path)
    msg = err.value.one_line()
    assert str(path) in msg and "training.max_step" in msg and "max_steps" in msg
    assert "\n" not in msg


def test_wrong_type_names_the_field():
    with pytest.raises(StudioError, match=r"training\.batch_size.*'lots'"):
        build_spec({"training": {"batch_size": "lots"}})


def test_unknown_method_lists_the_choices():
    with pytest.raises(StudioError, match=r"Unknown method 'lorra'.*did you mean 'lora'"):
        build_spec({"method": "lorra"})


def test_bad_method_argument_names_it():
    with pytest.raises(StudioError, match=r"method_args\.r"):
        build_spec({"method_args": {"r": 0}})


def test_unknown_set_key_and_missing_equals():
    with pytest.raises(StudioError, match="did you mean 'max_steps'"):
        build_spec({}, ["max_step=3"])
    with pytest.raises(StudioError, match="has no '='"):
        build_spec({}, ["max_steps"])


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  max_steps: 10\n   lr: [\n")
    with pytest.raises(StudioError, match=r"bad\.yaml: line \d+ is not valid YAML"):
        load_spec(path)


def test_missing_spec_file():
    with pytest.raises(StudioError, match="file not found"):
        load_spec("/nonexistent/run.yaml")


def test_trust_remote_code_is_off_unless_turned_on():
    assert build_spec({}).model.trust_remote_code is False


def test_cpu_preset_is_the_tuned_default_for_the_embedded_model():
    names = [p.name for p in list_presets()]
    assert "cpu-lora-sft" in names
    preset = get_preset("cpu-lora-sft")
    spec = build_spec(dict(preset.spec, data={"path": "x.jsonl"}))
    assert spec.model.name == "smollm2-135m-instruct"
    assert spec.training.gradient_checkpointing is False  # 1.25x faster on this CPU (PLATFORM.md)
    assert preset.text("zh") and preset.text("en")
