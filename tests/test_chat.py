"""Side-by-side chat on the transformers engine (tiny model): a real serve job, real HTTP streaming."""

from __future__ import annotations

import json

import pytest

from conftest import assert_nothing_left, job_processes, wait_for_servers
from studio.errors import StudioError
from studio.infer import compare
from studio.infer.base import Sampling

PROMPT = "Tell me a story about the sea."


def random_adapter(base_path, folder, seed: int) -> str:
    """A LoRA adapter with random (non-zero) weights: it changes the tiny model's answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                            init_lora_weights=False, task_type="CAUSAL_LM"))
    peft.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_adapter(tiny_model, tmp_path_factory) -> str:
    return random_adapter(tiny_model, tmp_path_factory.mktemp("adapters") / "wild", 0)


@pytest.fixture(scope="module")
def local_engine(tiny_model, tiny_adapter):
    """The same engine code in this process: what the served panes must answer."""
    from studio.infer.transformers_engine import TransformersEngine

    engine = TransformersEngine(str(tiny_model))
    engine.add_adapter("wild", tiny_adapter)
    yield engine
    engine.close()


def final(steps):
    histories, stats = steps[-1]
    return [h[-1]["content"] for h in histories], stats, histories


def test_panes_stream_base_and_adapter_then_cancel_leaves_nothing(workspace, patient_manager, tiny_adapter,
                                                                  local_engine):
    manager = patient_manager  # the job must clean up itself, before any SIGKILL
    compare.start_engines(manager, "tiny-random-llama", {"wild": tiny_adapter}, engine="transformers")
    (job, info), = wait_for_servers(manager, 1, timeout=120)
    assert info["engine"] == "transformers" and list(info["adapters"]) == ["wild"]

    values = [v for _label, v in compare.pane_choices(manager)]
    assert values == [f"{job.id}::base", f"{job.id}::wild", compare.ENDPOINT]
    targets = [compare.target_for(manager, v) for v in values[:2]]
    sampling = Sampling(max_tokens=12, temperature=1.0, seed=7)  # greedy: random weights repeat newlines
    steps = list(compare.run_turn(targets, [[], []], PROMPT, sampling))
    answers, stats, histories = final(steps)

    conv = [{"role": "user", "content": PROMPT}]
    expected = [local_engine.generate([conv], sampling)[0].text,
                local_engine.generate([conv], sampling, "wild")[0].text]
    assert [a.strip() for a in answers] == expected
    assert expected[0] != expected[1]  # the adapter pane really runs the adapter
    assert len(steps) > 3  # tokens arrived piece by piece, not as one block
    for s in stats:
        assert s.ttft_s is not None and 0 < s.ttft_s <= s.total_s and s.tokens >= 2 and s.tokens_per_s > 0
    assert compare.stats_numbers(stats[0])["tokens_per_s"] > 0

    # a second turn carries each pane's own history; a template preset is honoured per request
    steps = list(compare.run_turn(targets, histories, "And then?", sampling, system="Be brief.",
                                  chat_template="chatml"))
    answers2, _stats2, histories2 = final(steps)
    conv2 = [{"role": "system", "content": "Be brief."}] + [
        {"role": m["role"], "content": m["content"]} for m in histories2[1][:-1]]
    assert answers2[1].strip() == local_engine.generate([conv2], sampling, "wild", template="chatml")[0].text

    # the studio's own server reached as an external endpoint (URL, model, key)
    endpoint = compare.target_for(manager, compare.ENDPOINT, {"url": info["url"], "model": "base",
                                                              "api_key": info["token"]})
    answers3, stats3, histories3 = final(list(compare.run_turn([endpoint], [[]], PROMPT, sampling)))
    assert answers3[0].strip() == expected[0]

    panes = [{"label": t.label, "engine": t.engine, "messages": h, "stats": [compare.stats_numbers(s)]}
             for t, h, s in zip([targets[0], targets[1], endpoint], [histories[0], histories[1], histories3[0]],
                                [stats[0], stats[1], stats3[0]])]
    written = {}
    for fmt in ("json", "md"):
        path = written[fmt] = compare.export_conversation(workspace, panes, fmt, system="Be brief.", sampling=sampling)
        assert path.parent == workspace.exports and path.suffix == f".{fmt}"
        text = path.read_text(encoding="utf-8")
        assert info["token"] not in text  # the key never reaches a file
        assert expected[1] in text and "wild" in text
    doc = json.loads(written["json"].read_text(encoding="utf-8"))
    assert [p["label"] for p in doc["panes"]] == [t.label for t in (targets[0], targets[1], endpoint)]
    assert doc["panes"][1]["messages"][-1]["content"].strip() == expected[1]

    pids, pgid, port = job_processes(job.pid), job.pid, info["port"]
    assert compare.stop_engines(manager) == 1
    ended = manager.wait(job.id, timeout=60)
    assert ended.state == "cancelled"
    assert_nothing_left(pids, pgid, port)
    assert compare.servers(manager) == []
    with pytest.raises(StudioError, match="not being served"):
        compare.target_for(manager, values[0])


def test_pane_inputs_are_checked(workspace):
    from studio.jobs import JobManager

    manager = JobManager(workspace)
    with pytest.raises(StudioError, match="URL"):
        compare.target_for(manager, compare.ENDPOINT, {"url": "ftp://x", "model": "m"})
    with pytest.raises(StudioError, match="empty"):
        list(compare.ask_panes([], [], "  ", Sampling()))
    with pytest.raises(StudioError, match="no conversation"):
        compare.export_conversation(workspace, [{"label": "a", "messages": []}])
    with pytest.raises(StudioError, match="Nothing to serve"):
        compare.start_engines(manager, "", {}, [])


def test_adapter_names_are_unique_and_safe():
    names = compare.adapter_names(["/w/runs/my run/adapter", "/w/runs/my run/adapter", "/x/other"])
    assert list(names) == ["my-run", "my-run-2", "other"]


def test_unreachable_pane_reports_in_its_pane_only():
    dead = compare.Target("dead", "http://127.0.0.1:9/v1", "m")
    steps = list(compare.run_turn([dead], [[]], "hi", Sampling(max_tokens=2)))
    answers, stats, _ = final(steps)
    assert answers[0].startswith("⚠️") and "cannot reach" in stats[0]
