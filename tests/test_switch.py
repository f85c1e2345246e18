"""Item 1 of issue 11: switching method or stage starts from the new entry's defaults, keeps only the
options it accepts and says which were dropped (CLI --set, presets and the UI share `carry_args`)."""

from __future__ import annotations

import pytest

from studio import methods, stages
from studio.errors import StudioError
from studio.presets import get_preset
from studio.spec import build_spec, carry_args, dropped_note

# stages that need an option no preset can guess: refused with what to give
NEEDS = {"ppo": "reward", "distill": "teacher"}


@pytest.mark.parametrize("name", methods.REGISTRY.names())
def test_every_method_can_replace_the_presets_method(name):
    raw = get_preset("cpu-lora-sft").spec
    notes: list[str] = []
    spec = build_spec(raw, [f"method={name}"], notes=notes)
    cfg = methods.REGISTRY.get(name).config
    assert spec.method == name and set(spec.method_args) == set(cfg.model_fields)
    dropped = sorted(set(raw["method_args"]) - {k for k in raw["method_args"] if spec.method_args.get(k) ==
                                                 raw["method_args"][k] and k in cfg.model_fields})
    if dropped:
        assert notes and all(k in notes[0] for k in dropped) and name in notes[0]
    else:
        assert notes == []


@pytest.mark.parametrize("name", stages.REGISTRY.names())
def test_every_stage_can_replace_the_presets_stage(name):
    raw = get_preset("cpu-dpo").spec
    if name in NEEDS:
        with pytest.raises(StudioError, match=NEEDS[name]):
            build_spec(raw, [f"stage={name}"])
        return
    notes: list[str] = []
    spec = build_spec(raw, [f"stage={name}"], notes=notes)
    assert spec.stage == name and set(spec.stage_args) == set(stages.REGISTRY.get(name).config.model_fields)
    assert spec.method_args == build_spec(raw).method_args  # the method is untouched


def test_options_shared_by_both_entries_carry_over_and_later_keys_use_the_new_entry():
    raw = get_preset("cpu-lora-sft").spec
    notes: list[str] = []
    spec = build_spec(raw, ["r=4", "method=dora", "init=gaussian"], notes=notes)
    assert spec.method_args["r"] == 4 and spec.method_args["init"] == "gaussian" and notes == []
    # LoRA's target_modules=all-linear is not a valid IA3 choice on its own: dropped, IA3 defaults used
    spec = build_spec(raw, ["method=ia3"], notes=notes)
    assert spec.method_args == {"target_modules": "default", "feedforward_modules": "default"}
    assert "target_modules" in notes[-1] and "r" in notes[-1]
    with pytest.raises(StudioError, match="did you mean 'ia3'"):
        build_spec(raw, ["method=ia4"])
    with pytest.raises(StudioError, match="unknown key 'method_args.r'"):  # a YAML that names both stays strict
        build_spec({**raw, "method": "ia3"})


def test_ui_helper_keeps_and_drops_the_same_options():
    kept, dropped = carry_args("method", "vera", {"r": 8, "alpha": 16, "target_modules": "q_proj,v_proj"})
    assert kept == {"r": 8, "target_modules": "q_proj,v_proj"} and dropped == ["alpha"]
    assert "alpha" in dropped_note("method", "vera", dropped) and "alpha" in dropped_note("method", "vera", dropped,
                                                                                            "zh")
    assert "不接受" in dropped_note("method", "vera", dropped, "zh")


def test_cli_says_what_was_dropped(capsys, workspace, tiny_model):
    from studio.cli import main

    code = main(["estimate", "--preset", "cpu-lora-sft", "--model", "tiny-random-llama", "--set", "method=bitfit",
                 "--gpu-memory", "24GiB", "--json"])
    err = capsys.readouterr().err
    assert code == 0 and "note: method bitfit does not take alpha, dropout, r" in err
