"""Merging on the tiny model: merged == adapter model, weighted combinations, soups, reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import tiny_spec, train_inline
from studio.errors import StudioError
from studio.merge import runner, verify

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"


def logits_of(model, tokenizer):
    return verify.logits(model, tokenizer)


def load(folder):
    from studio.models.loading import load_model, load_tokenizer
    from studio.models.registry import ModelRef

    ref = ModelRef(str(folder), Path(folder), "local")
    return load_model(ref, "float32", "cpu").eval(), load_tokenizer(ref)


def with_adapters(tiny_model, *folders):
    """The tiny base with the adapters merged one after the other (peft, in this test)."""
    from peft import PeftModel

    model, tok = load(tiny_model)
    for folder in folders:
        model = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    return model.eval(), tok


def max_diff(a, b) -> float:
    return verify.compare(a, b)["max_abs_logit_diff"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two real LoRA runs on the tiny model (the training recipe, studio_run.json included)."""
    from studio.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("merge-ws"))
    data = SAMPLES / "identity_alpaca.jsonl"
    out = []
    for seed in (1, 2):
        _run, artifacts = train_inline(ws, tiny_spec(data, seed=seed, learning_rate=2e-2, max_steps=4, save_steps=100),
                                       f"lora-{seed}")
        out.append(Path(artifacts["adapter"]))
    return out


def test_merge_job_from_the_cli_equals_the_adapter_model(workspace, trained, tiny_model, capsys):
    from studio.cli import main
    from studio.merge import artifacts

    art = artifacts.read(trained[0])
    assert (art.base_model, art.method) == ("tiny-random-llama", "lora")
    code = main(["--workspace", str(workspace.root), "merge", str(trained[0]), "--name", "m1"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "max logit difference" in printed and "within" in printed
    folder = workspace.merged / "m1"
    report = json.loads((folder / runner.REPORT).read_text())
    check = report["verification"]
    assert report["mode"] == "merge" and report["method"] == "lora" and report["quantized_base"] is False
    assert check["within_tolerance"] and check["max_abs_logit_diff"] < 1e-3 and check["top1_agreement"] == 1.0
    assert report["sources"] == [str(trained[0])] and report["probes"] == verify.PROBES

    merged, tok = load(folder)
    adapter_model, _ = artifacts.load_tuned(art)
    base, _ = load(tiny_model)
    assert max_diff(logits_of(adapter_model, tok), logits_of(merged, tok)) < 1e-4
    assert max_diff(logits_of(base, tok), logits_of(merged, tok)) > 1e-3  # the merge really changed weights
    # the same name twice is refused, nothing overwritten
    assert main(["--workspace", str(workspace.root), "merge", str(trained[0]), "--name", "m1"]) == 1


def test_linear_combination_with_one_weight_is_that_adapter(tmp_path, trained, tiny_model):
    out = tmp_path / "lin"
    report = runner.combine_adapters(trained, out, weights=[1.0, 0.0], combination="linear")
    merged, tok = load(out)
    only_first, _ = with_adapters(tiny_model, trained[0])
    assert max_diff(logits_of(only_first, tok), logits_of(merged, tok)) < 1e-4
    assert report["verification"]["within_tolerance"] and report["combination"] == "linear"
    # the combined adapter is kept beside the merged model and names its base
    info = json.loads((out / "adapter" / "studio_run.json").read_text())
    assert info["base_model"] == "tiny-random-llama" and info["combined_from"] == [str(t) for t in trained]
    assert (out / "adapter" / "adapter_config.json").is_file()


def test_cat_combination_adds_both_adapters(tmp_path, trained, tiny_model):
    out = tmp_path / "cat"
    runner.combine_adapters(trained, out, weights=[1.0, 1.0], combination="cat")
    merged, tok = load(out)
    both, _ = with_adapters(tiny_model, *trained)
    only_first, _ = with_adapters(tiny_model, trained[0])
    assert max_diff(logits_of(both, tok), logits_of(merged, tok)) < 1e-4
    assert max_diff(logits_of(only_first, tok), logits_of(merged, tok)) > 1e-4


@pytest.mark.parametrize("combination", ["ties", "dare_linear", "svd"])
def test_other_combinations_run_and_are_verified(tmp_path, trained, combination):
    report = runner.combine_adapters(trained, tmp_path / combination, weights=[0.6, 0.4], combination=combination,
                                     density=0.5)
    assert report["verification"]["max_abs_logit_diff"] < 1e-3
    assert report["density"] == (None if combination == "svd" else 0.5)


def test_combining_refuses_bad_input(tmp_path, trained):
    with pytest.raises(StudioError, match="at least two"):
        runner.combine_adapters(trained[:1], tmp_path / "x")
    with pytest.raises(StudioError, match="one weight per adapter"):
        runner.combine_adapters(trained, tmp_path / "x", weights=[1.0])
    with pytest.raises(StudioError, match="Unknown combination"):
        runner.combine_adapters(trained, tmp_path / "x", combination="average")
    assert not (tmp_path / "x").exists()


def test_soup_is_the_weighted_average_of_its_ingredients(tmp_path, trained):
    from safetensors.torch import load_file

    a, b = tmp_path / "a", tmp_path / "b"
    runner.merge_artifact(trained[0], a)
    runner.merge_artifact(trained[1], b)
    report = runner.soup([a, b], tmp_path / "soup", weights=[3, 1])
    assert report["weights"] == [0.75, 0.25] and report["base_model"] == "tiny-random-llama"
    assert set(report["distance_to_ingredients"]) == {str(a), str(b)}
    name = "model.layers.0.self_attn.q_proj.weight"
    wa, wb = (load_file(str(f / "model.safetensors"))[name] for f in (a, b))
    ws = load_file(str(tmp_path / "soup" / "model.safetensors"))[name]
    assert (ws - (0.75 * wa + 0.25 * wb)).abs().max() < 1e-6
    # ingredients of another base are refused
    c = tmp_path / "c"
    shutil.copytree(b, c)
    rep = json.loads((c / runner.REPORT).read_text())
    (c / runner.REPORT).write_text(json.dumps(dict(rep, base_model="some-other-base")))
    with pytest.raises(StudioError, match="different base models"):
        runner.soup([a, c], tmp_path / "soup2")


def test_quantised_base_difference_is_shown(tmp_path, workspace):
    """A QLoRA adapter: the merged full-precision model differs from the 4-bit adapter model; the report says so."""
    pytest.importorskip("bitsandbytes")
    spec = tiny_spec(SAMPLES / "identity_alpaca.jsonl", max_steps=2, save_steps=100)
    spec["method"] = "qlora"
    _run, artifacts = train_inline(workspace, spec, "qlora")
    report = runner.merge_artifact(artifacts["adapter"], tmp_path / "q")
    check = report["verification"]
    assert report["quantized_base"] is True and "quantised" in check["note"]
    assert check["max_abs_logit_diff"] > 0


def test_merge_tab_builds_the_job_spec():
    from studio.ui.tabs.merge import merge_spec

    spec = merge_spec("combine", None, ["/a", "/b"], [], "0.7, 0.3", "ties", 0.4, "", "bfloat16")
    assert {k: spec[k] for k in ("mode", "name", "dtype", "adapters", "weights", "combination", "density")} == \
        {"mode": "combine", "name": None, "dtype": "bfloat16", "adapters": ["/a", "/b"],
         "weights": [0.7, 0.3], "combination": "ties", "density": 0.4}
    assert merge_spec("soup", None, [], ["/m1", "/m2"], "", "linear", 0.5, "s", "float32")["weights"] is None
    with pytest.raises(StudioError, match="at least two"):
        merge_spec("soup", None, [], ["/m1"], "", "linear", 0.5, "", "float32")
    with pytest.raises(StudioError, match="numbers"):
        merge_spec("combine", None, ["/a", "/b"], [], "0.7, x", "ties", 0.5, "", "float32")
    with pytest.raises(StudioError, match="Pick an adapter"):
        merge_spec("merge", None, [], [], "", "linear", 0.5, "", "float32")
