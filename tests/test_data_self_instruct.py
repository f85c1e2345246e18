"""Self-Instruct: parsing and filters, and real `generate` jobs through the job manager."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import SAMPLES
from studio.atomic import read_jsonl
from studio.data import self_instruct as si
from studio.data.filters import REASONS, Filters, parse_tasks, tokens
from studio.jobs.events import read_metrics, read_progress

SEEDS = SAMPLES / "self_instruct_seeds.jsonl"


def test_parse_numbered_lists_and_labelled_blocks():
    text = ("Here you go:\n4. Explain photosynthesis.\n5) **Translate** the sentence into French.\n"
            "   Input: I love cats.\n6、列出三种水果。\n- Summarize the text\nOutput: A short summary.\n")
    tasks = parse_tasks(text)
    assert [t["instruction"] for t in tasks] == ["Explain photosynthesis.", "Translate the sentence into French.",
                                                 "列出三种水果。", "Summarize the text"]
    assert tasks[1]["input"] == "I love cats." and tasks[3]["output"] == "A short summary."
    blocks = parse_tasks("Instruction: Give a synonym\nInput: <noinput>\nOutput: glad\n\nInstruction: Sort\nInput: 3 1")
    assert blocks == [{"instruction": "Give a synonym", "input": "", "output": "glad"},
                      {"instruction": "Sort", "input": "3 1", "output": ""}]
    assert parse_tasks("nothing structured here at all") == []
    echo = parse_tasks("1. Write a short poem about autumn.\nHere is an example: roses are red")
    assert echo == [{"instruction": "Write a short poem about autumn.", "input": "", "output": ""}]


def test_filters_work_for_chinese_and_english():
    assert tokens("将以下句子翻译成英文 Hello, World!") == list("将以下句子翻译成英文") + ["hello", "world"]
    f = Filters(["将以下句子翻译成英文", "Write a poem about the sea."], rouge_threshold=0.7)
    assert f.check("将以下句子翻译成法文")[0] == "similar"  # the default ROUGE tokenizer would see no words here
    assert f.check("用三句话介绍长城的历史")[0] is None
    assert f.check("Write a poem about the ocean.")[0] == "similar"
    assert f.check("write a poem about the SEA")[0] == "duplicate"
    assert f.check("Hi there")[0] == "too_short"
    assert f.check("word " * 200)[0] == "too_long"
    assert f.check("Draw a picture of a cat in the snow")[0] == "blacklist"
    assert f.check("Describe the mapping between keys and values")[0] is None  # 'map' inside a word is fine
    f.add("Explain how rainbows form.")
    assert f.check("Explain how rainbows form!")[0] == "duplicate"


def test_review_selection_and_rule_judge(tmp_path):
    rows = [{"instruction": "a task", "input": "", "output": "an answer", "status": "kept", "detail": ""},
            {"instruction": "other", "input": "x", "output": "y", "status": "similar", "detail": "ROUGE-L 0.9"},
            {"instruction": "", "input": "", "output": "", "status": "unparsable", "detail": "junk"}]
    (tmp_path / si.CANDIDATES).write_text("".join(json.dumps(r) + "\n" for r in rows))
    review = si.review_rows(tmp_path)
    assert [r["keep"] for r in review] == [True, False]
    review[1]["keep"] = True
    assert si.selected(review) == [{"instruction": "a task", "input": "", "output": "an answer"},
                                   {"instruction": "other", "input": "x", "output": "y"}]
    assert si.rule_score("the the the the") < si.rule_score("A clear answer with several distinct useful words.")
    assert si._verdict("Answer B is better") == "B" and si._verdict("Neither") is None


def _check_counts(run_dir: Path, requests: int) -> dict:
    state = json.loads((run_dir / si.STATE).read_text())
    counts = state["counts"]
    assert state["requests"] == requests
    dropped = sum(counts[r] for r in REASONS if r != "unparsable")
    assert counts["generated"] == counts["kept"] + counts["extra"] + dropped
    candidates = read_jsonl(run_dir / si.CANDIDATES)
    assert sum(c["status"] == "unparsable" for c in candidates) == counts["unparsable"]
    assert sum(c["status"] != "unparsable" for c in candidates) == counts["generated"]
    kept = read_jsonl(run_dir / si.OUTPUT)
    assert len(kept) == counts["kept"]
    assert len({c["instruction"] for c in kept}) == len(kept)
    assert read_progress(run_dir)["counts"] == counts
    assert read_metrics(run_dir)[-1]["step"] == requests
    return counts


def _config(**extra) -> dict:
    base = {"seed_path": str(SEEDS), "num_instructions": 3, "max_requests": 4, "batch_size": 2, "max_tokens": 24,
            "teacher": {"kind": "local", "model": "tiny-random-llama"}}
    base.update(extra)
    return base


def test_generate_job_on_tiny_model_counts_honestly(manager, tiny_model):
    job = manager.submit("generate", _config(), title="si tiny")
    job = manager.wait(job.id, timeout=300)
    assert job.state == "succeeded", job.error
    counts = _check_counts(Path(job.run_dir), 4)
    assert counts["kept"] <= 3
    assert Path(job.artifacts["output"]).is_file()
    log = (Path(job.run_dir) / "worker.log").read_text()
    assert "done after 4 requests" in log
    if counts["kept"] < 3:
        assert "raise max_requests or use a stronger teacher" in log


def test_generate_job_cancel_then_resume(manager, tiny_model):
    job = manager.submit("generate", _config(max_requests=6, batch_size=1), title="si resume")
    run_dir = Path(job.run_dir)
    deadline = time.time() + 240
    while not (run_dir / si.STATE).exists() and time.time() < deadline:
        time.sleep(0.2)
        manager.tick()
    job = manager.cancel(job.id, wait=True)
    assert job.state == "cancelled"
    done = json.loads((run_dir / si.STATE).read_text())["requests"]
    assert 1 <= done <= 6
    job = manager.wait(manager.resume(job.id).id, timeout=300)
    assert job.state == "succeeded", job.error
    _check_counts(run_dir, 6)
    log = (run_dir / "worker.log").read_text()
    if done < 6:
        assert f"resuming after {done} requests" in log


@pytest.fixture
def endpoint(tiny_model):
    """The studio's own OpenAI-compatible server over the tiny model, on 127.0.0.1, with an API key."""
    import uvicorn

    from studio.infer import engines
    from studio.infer.server import build_app

    key = "sk-studio-test-" + "7f3a9c1e5b2d4068"
    engine = engines.build("transformers", str(tiny_model), {})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(engine, key, "tiny"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", key
    server.should_exit = True
    thread.join(10)


def test_api_key_never_stored(manager, endpoint):
    url, key = endpoint
    cfg = _config(max_requests=2, teacher={"kind": "endpoint", "model": "base", "url": url})
    wrong = manager.wait(manager.submit("generate", cfg, title="no key").id, timeout=120)
    assert wrong.state == "failed" and "401" in wrong.error  # the server really checks the key
    job = manager.wait(manager.submit("generate", cfg, title="si endpoint", secrets={"api_key": key}).id,
                       timeout=300)
    assert job.state == "succeeded", job.error
    assert json.loads((Path(job.run_dir) / si.STATE).read_text())["requests"] == 2
    needle = key.encode()
    ws = manager.workspace.root
    scanned = [p for p in ws.rglob("*") if p.is_file()]
    assert any(p.name == "job.yaml" for p in scanned) and any(p.name == "worker.log" for p in scanned)
    for path in scanned:
        assert needle not in path.read_bytes(), path
    assert key not in json.dumps(manager.get(job.id).public(), default=str)
    assert not list((ws / ".secrets").glob("*"))  # the encrypted copy is gone once the job ended


@pytest.mark.slow
def test_self_instruct_on_embedded_model(manager, embedded_model):
    """The embedded SmolLM2 grows a few English seed tasks into new, non-duplicate tasks."""
    cfg = _config(num_instructions=2, max_requests=6, batch_size=2, max_tokens=96, temperature=0.8,
                  teacher={"kind": "embedded"})
    job = manager.wait(manager.submit("generate", cfg, title="si embedded").id, timeout=3000)
    assert job.state == "succeeded", job.error
    run_dir = Path(job.run_dir)
    state = json.loads((run_dir / si.STATE).read_text())
    counts = _check_counts(run_dir, state["requests"])
    kept = read_jsonl(run_dir / si.OUTPUT)
    assert counts["kept"] >= 1, si.summary(counts)
    seeds = {json.loads(line)["instruction"].lower() for line in SEEDS.read_text(encoding="utf-8").splitlines()}
    near = Filters(sorted(seeds))
    for row in kept:
        assert row["instruction"].lower() not in seeds and row["output"].strip()
        assert near.most_similar(row["instruction"])[0] <= 0.7
    print("embedded self-instruct:", si.summary(counts), json.dumps(kept, ensure_ascii=False))


def test_a_round_cut_off_before_its_state_write_is_redone(tmp_path):
    """Files are written before state.json; rows a killed round left in them are not counted twice."""
    state = si.State(tmp_path)
    state.candidates.append({"instruction": "a task", "input": "", "output": "x", "status": "kept"})
    state.counts["generated"] = state.counts["kept"] = 1
    state.requests = 1
    state.save()
    orphan = {"instruction": "", "input": "", "output": "", "status": "unparsable", "detail": "junk"}
    with open(tmp_path / si.CANDIDATES, "a", encoding="utf-8") as fh:  # the next round got this far only
        fh.write(json.dumps(orphan) + "\n")
    again = si.State(tmp_path)
    assert again.resumed and again.requests == 1
    assert [c["instruction"] for c in again.candidates] == ["a task"]
    assert sum(c["status"] == "unparsable" for c in again.candidates) == again.counts["unparsable"] == 0
