"""Formats: detection, row-level findings (file, line, row, field), converters and conversions."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES
from studio.data import convert, formats, mapping
from studio.data.findings import DataError
from studio.data.prepare import load_rows
from studio.errors import StudioError


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("sample,fmt", [
    ("identity_alpaca.jsonl", "alpaca"), ("sharegpt_tools.json", "sharegpt"), ("messages_tools.jsonl", "messages"),
    ("preference_pairs.jsonl", "preference"), ("kto_feedback.jsonl", "kto"), ("math_prompts.jsonl", "prompt"),
    ("plain_text.txt", "text"), ("alpaca_zh_excel_gbk.csv", "alpaca"),
])
def test_samples_detect_and_convert(sample, fmt):
    loaded = load_rows(str(SAMPLES / sample))
    assert loaded.format == fmt
    schema = formats.get(fmt)
    for target, conv in schema.converters.items():
        out = conv(loaded.table.rows[0], None)
        assert out and all(v is not None for v in out.values()), (target, out)


def test_empty_required_field_and_wrong_type_name_row_and_field(tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [
        {"instruction": "ok", "input": "", "output": "fine"},
        {"instruction": "  ", "input": "", "output": "x"},
        {"instruction": "y", "input": "", "output": 42},
    ])
    with pytest.raises(DataError) as err:
        load_rows(path)
    got = [(f.line, f.row, f.field) for f in err.value.findings]
    assert (2, 2, "instruction") in got and (3, 3, "output") in got
    line = err.value.findings[0].one_line()
    assert "d.jsonl" in line and "line 2" in line and "field 'instruction'" in line and "—" in line


def test_mixed_types_caught_before_arrow(tmp_path):
    rows = [{"text": f"t{i}", "score": 1} for i in range(5)] + [{"text": "t5", "score": "high"}]
    loaded = load_rows(_jsonl(tmp_path / "m.jsonl", rows))
    warn = [f for f in loaded.warnings if f.field == "score"]
    assert len(warn) == 1 and warn[0].row == 6 and "text here but number" in warn[0].message
    rows = [{"prompt": "p", "answer": "1"}, {"prompt": "q", "answer": 2}, {"prompt": "r", "answer": "3"}]
    with pytest.raises(DataError) as err:
        load_rows(_jsonl(tmp_path / "a.jsonl", rows))
    assert [(f.row, f.field) for f in err.value.findings] == [(2, "answer")]


def test_duplicates_and_chosen_equals_rejected(tmp_path):
    row = {"instruction": "a", "input": "", "output": "b"}
    loaded = load_rows(_jsonl(tmp_path / "dup.jsonl", [row, {"instruction": "c", "output": "d"}, row]))
    dup = [f for f in loaded.warnings if "duplicate" in f.message]
    assert len(dup) == 1 and dup[0].row == 3 and "row 1" in dup[0].message
    with pytest.raises(DataError) as err:
        load_rows(_jsonl(tmp_path / "p.jsonl", [{"prompt": "p", "chosen": "same", "rejected": "same"}]))
    assert err.value.findings[0].field == "rejected" and "same" in err.value.findings[0].message


def test_conversation_checks(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "hi"}]},
            {"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]},
            {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": 3}]}]
    with pytest.raises(DataError) as err:
        load_rows(_jsonl(tmp_path / "c.jsonl", rows[:2]))
    fields = [(f.row, f.field) for f in err.value.findings]
    assert fields == [(1, "messages"), (2, "messages[0].role")]
    with pytest.raises(DataError) as err:
        load_rows(_jsonl(tmp_path / "s.jsonl", rows[2:]))
    assert err.value.findings[0].field == "conversations[1].value"


def test_kto_labels_and_bad_label(tmp_path):
    rows = [{"prompt": "p", "completion": "c", "label": True}, {"prompt": "p", "completion": "d", "label": "false"}]
    loaded = load_rows(_jsonl(tmp_path / "k.jsonl", rows))
    conv = formats.converter(formats.get("kto"), "unpaired")
    assert [conv(r, None)["label"] for r in loaded.table.rows] == [True, False]
    with pytest.raises(DataError) as err:
        load_rows(_jsonl(tmp_path / "k2.jsonl", [{"prompt": "p", "completion": "c", "label": "maybe"}]))
    assert err.value.findings[0].field == "label"


def test_converter_output_shapes():
    sft = formats.converter(formats.get("alpaca"), "sft")({"instruction": "i", "input": "x", "output": "o",
                                                          "history": [["q", "a"]]}, "sys")
    assert [m["role"] for m in sft["prompt"]] == ["system", "user", "assistant", "user"]
    assert sft["completion"] == [{"role": "assistant", "content": "o"}]
    pref = formats.converter(formats.get("preference"), "preference")({"prompt": "p", "chosen": "c", "rejected": "r"},
                                                                      None)
    assert pref == {"prompt": [{"role": "user", "content": "p"}], "chosen": [{"role": "assistant", "content": "c"}],
                    "rejected": [{"role": "assistant", "content": "r"}]}
    assert set(formats.converter(formats.get("prompt"), "prompt")({"prompt": "p"}, None)) == {"prompt", "answer"}
    assert formats.converter(formats.get("text"), "text")({"text": "t"}, None) == {"text": "t"}
    with pytest.raises(StudioError, match="preference pairs"):
        formats.converter(formats.get("alpaca"), "preference")


def test_tool_turns_become_openai_tool_calls():
    share = json.loads((SAMPLES / "sharegpt_tools.json").read_text())[0]
    out = formats.converter(formats.get("sharegpt"), "sft")(share, None)
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    call = out["messages"][1]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and isinstance(call["function"]["arguments"], str)
    assert json.loads(out["tools"])[0]["name"] == "get_weather"
    msgs = json.loads((SAMPLES / "messages_tools.jsonl").read_text().splitlines()[0])
    out = formats.converter(formats.get("messages"), "sft")(msgs, None)
    assert json.loads(out["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"people": 2, "time": "19:00"}
    # and back to ShareGPT for LLaMA-Factory users
    back = convert.convert_rows([msgs], "messages", "sharegpt")[0]["conversations"]
    assert [t["from"] for t in back] == ["human", "function_call", "observation", "gpt"]


def test_conversions_between_formats():
    alpaca = [{"instruction": "Add.", "input": "2 3", "output": "5", "history": [["hi", "hello"]]}]
    msgs = convert.convert_rows(alpaca, "alpaca", "messages")
    assert [m["role"] for m in msgs[0]["messages"]] == ["user", "assistant", "user", "assistant"]
    again = convert.convert_rows(msgs, "messages", "alpaca")[0]
    assert again == {"instruction": "Add.\n\n2 3", "input": "", "output": "5", "history": [["hi", "hello"]]}
    assert convert.convert_rows(alpaca, "alpaca", "prompt")[0]["answer"] == "5"
    assert convert.convert_rows(alpaca, "alpaca", "completion")[0]["completion"][0]["content"] == "5"
    pairs = [{"prompt": "p", "chosen": "good", "rejected": "bad"}]
    kto = convert.convert_rows(pairs, "preference", "kto")
    assert [(r["completion"], r["label"]) for r in kto] == [("good", True), ("bad", False)]
    assert convert.convert_rows(kto, "kto", "preference") == pairs
    with pytest.raises(DataError) as err:
        convert.convert_rows([{"messages": [{"role": "user", "content": "q"}]}], "messages", "alpaca")
    assert err.value.findings[0].row == 1
    with pytest.raises(StudioError, match="good and bad"):
        convert.convert_rows(alpaca, "alpaca", "preference")


def test_mapping_suggestions_and_cli_syntax():
    assert mapping.suggest(["question", "answer"]) == ("alpaca", {"question": "instruction", "answer": "output"})
    assert mapping.suggest(["问题", "回答"])[1] == {"问题": "instruction", "回答": "output"}
    assert mapping.suggest(["instruction", "output"]) == ("alpaca", {})
    assert mapping.parse(["question=instruction"]) == {"question": "instruction"}
    with pytest.raises(StudioError, match="COLUMN=FIELD"):
        mapping.parse(["question"])


def test_unknown_columns_hint_the_mapping(tmp_path):
    path = _jsonl(tmp_path / "q.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(StudioError) as err:
        load_rows(path)
    assert "--map question=instruction" in str(err.value)
    loaded = load_rows(path, columns={"question": "instruction", "answer": "output"})
    assert loaded.format == "alpaca" and loaded.table.rows == [{"instruction": "q", "output": "a"}]
