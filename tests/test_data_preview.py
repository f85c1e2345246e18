"""What the model sees: trl's own masks on the real tokenizer, lengths and statistics."""

from __future__ import annotations

import pytest

from studio.data import checks, formats, preview, stats
from studio.models import templates
from studio.data.lengths import row_token_lengths
from studio.data.readers import Table
from studio.errors import StudioError

ZH = {"instruction": "将以下句子翻译成英文", "input": "今天的天气非常好", "output": "The weather is excellent today"}


@pytest.fixture(scope="module")
def tok(tiny_model):
    return preview.load_tokenizer("tiny-random-llama")


def _sft(fmt, row):
    return formats.converter(formats.get(fmt), "sft")(row, None)


def test_alpaca_trains_only_the_answer(tok):
    view = preview.preview_rows([_sft("alpaca", ZH)], "sft", tok)[0]
    assert view.trained_text() == f"The weather is excellent today{tok.eos_token}\n"
    marked = view.marked()
    assert marked.index("将以下句子翻译成英文") < marked.index("[[The weather")
    assert "今天的天气非常好" not in view.trained_text()
    html = view.html()
    assert "class=\"trained\"" in html and "&lt;|im_start|&gt;" in html


def test_completion_only_loss_off_trains_everything(tok):
    view = preview.preview_rows([_sft("alpaca", ZH)], "sft", tok, completion_only_loss=False)[0]
    assert all(view.sequences[0].trained)


def test_conversations_train_all_tokens_unless_assistant_only(tok):
    row = _sft("messages", {"messages": [{"role": "user", "content": "question"},
                                         {"role": "assistant", "content": "answer one"},
                                         {"role": "user", "content": "again"},
                                         {"role": "assistant", "content": "answer two"}]})
    assert all(preview.preview_rows([row], "sft", tok)[0].sequences[0].trained)
    with pytest.raises(StudioError, match="generation"):
        preview.encode([row], "sft", tok, assistant_only_loss=True)
    named = preview.load_tokenizer("tiny-random-llama", "chatml")
    view = preview.preview_rows([row], "sft", named, assistant_only_loss=True)[0]
    assert view.trained_text() == "answer one<|im_end|>answer two<|im_end|>"


def test_preference_unpaired_prompt_and_text(tok):
    pair = formats.converter(formats.get("preference"), "preference")(
        {"prompt": "Hi?", "chosen": "Hello!", "rejected": "Go away."}, None)
    chosen, rejected = preview.preview_rows([pair], "preference", tok)[0].sequences
    assert (chosen.name, rejected.name) == ("chosen", "rejected")
    view = preview.Preview([chosen], tok)
    assert view.trained_text().startswith("Hello!")
    kto = formats.converter(formats.get("kto"), "unpaired")({"prompt": "Hi?", "completion": "Bye", "label": 0}, None)
    seq = preview.preview_rows([kto], "unpaired", tok)[0].sequences[0]
    assert seq.name == "bad" and any(seq.trained) and not seq.trained[0]
    prompt = formats.converter(formats.get("prompt"), "prompt")({"prompt": "2+2?", "answer": "4"}, None)
    view = preview.preview_rows([prompt], "prompt", tok)[0]
    assert not any(view.sequences[0].trained) and view.marked().endswith("assistant\n")
    text = preview.preview_rows([{"text": "plain words"}], "text", tok)[0]
    assert text.trained_text() == f"plain words{tok.eos_token}"


def test_truncation_and_drop_reported_as_findings(tok):
    rows = [ZH, dict(ZH, output="short"), dict(ZH, instruction="long " * 60)]
    converted = [_sft("alpaca", r) for r in rows]
    full = row_token_lengths(converted, "sft", tok)
    limit = full[0] - 2  # cuts the end of row 1's answer
    table = Table("zh.jsonl", rows, [1, 2, 3])
    found, lengths = checks.length_findings(table, converted, "sft", tok, limit)
    assert lengths == full
    by_row = {f.row: f for f in found}
    assert "cuts the end" in by_row[1].message and by_row[1].line == 1
    assert 2 not in by_row or full[1] > limit
    assert "drops the row" in by_row[3].message
    view = preview.preview_rows([converted[0]], "sft", tok, max_length=limit)[0]
    assert view.truncated() and not view.dropped() and "line-through" in view.html()


def test_base_model_without_template_needs_a_named_one(tok):
    import copy

    bare = copy.deepcopy(tok)
    bare.chat_template = None
    with pytest.raises(StudioError, match="no chat template"):
        templates.apply(bare, None)
    with pytest.raises(StudioError, match="no chat template"):
        preview.encode([_sft("alpaca", ZH)], "sft", bare)
    assert templates.apply(bare, "alpaca") == "alpaca"
    view = preview.preview_rows([_sft("alpaca", ZH)], "sft", bare)[0]
    assert "### Response:" in view.marked() and view.trained_text().startswith("The weather")


def test_tool_calls_a_template_drops_are_reported(tok):
    import json

    from conftest import SAMPLES

    row = formats.converter(formats.get("messages"), "sft")(
        json.loads((SAMPLES / "messages_tools.jsonl").read_text().splitlines()[0]), None)
    assert "book_table" in preview.preview_rows([row], "sft", tok)[0].notes[0]
    tools_template = preview.load_tokenizer("tiny-random-llama")
    tools_template.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% for c in m.get('tool_calls') or [] %}"
        "<call>{{ c['function']['name'] }}({{ c['function']['arguments'] }})</call>{% endfor %}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}")
    view = preview.preview_rows([row], "sft", tools_template)[0]
    assert view.notes == [] and "<call>book_table" in view.trained_text()


def test_statistics():
    lengths = [10, 12, 40, 41, 130]
    summary = stats.length_summary(lengths, max_length=64)
    assert summary["rows"] == 5 and summary["max"] == 130 and summary["over_max_length"] == 1
    hist = stats.histogram(lengths, bins=10)
    assert sum(b["rows"] for b in hist) == 5 and hist[0]["tokens"].startswith("0")
    assert [b["start"] for b in hist] == sorted(b["start"] for b in hist)
    fields = {f["field"]: f for f in stats.fields_present([ZH, {"instruction": "a", "input": "", "output": "b"}])}
    assert fields["input"]["rows"] == 1 and fields["output"]["types"] == "text"
