"""Reading real files of every shape and encoding, including broken ones: findings name the place."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES
from studio.data.findings import DataError
from studio.data.prepare import load_rows
from studio.data.readers import read_table, sniff_encoding

ZH = {"instruction": "将以下句子翻译成英文", "input": "今天的天气非常好", "output": "The weather is excellent today"}


def _excel_csv(path, encoding: str, sep: str = ",", bom: bytes = b"") -> None:
    """What Excel writes: CRLF, a multi-line quoted cell, an unnamed empty column, a blank trailing row."""
    lines = [sep.join(["instruction", "input", "output", ""]),
             sep.join([ZH["instruction"], ZH["input"], ZH["output"], ""]),
             sep.join(["用一句话介绍长城", "", '"长城很长，\r\n有两万多公里。"', ""]),
             sep.join(["", "", "", ""])]
    path.write_bytes(bom + ("\r\n".join(lines) + "\r\n").encode(encoding))


@pytest.mark.parametrize("encoding,sep,bom,suffix", [
    ("gb18030", ",", b"", ".csv"),          # Excel "CSV" on a Chinese Windows
    ("utf-8", ",", b"\xef\xbb\xbf", ".csv"),  # Excel "CSV UTF-8"
    ("utf-8", ",", b"", ".csv"),
    ("utf-16-le", "\t", b"\xff\xfe", ".csv"),  # Excel "Unicode text", whatever the name
    ("utf-16-le", "\t", b"", ".txt"),          # UTF-16 without a BOM
    ("gb18030", "\t", b"", ".tsv"),
])
def test_excel_style_text_files(tmp_path, encoding, sep, bom, suffix):
    path = tmp_path / f"data{suffix}"
    _excel_csv(path, encoding, sep, bom)
    table = read_table(path)
    assert table.columns == ["instruction", "input", "output"]  # no BOM glued on, no 'Unnamed: 3'
    assert table.rows[0] == ZH
    assert table.rows[1]["output"] == "长城很长，\n有两万多公里。"
    assert len(table.rows) == 2  # the blank trailing row is gone
    assert table.lines == [2, 3]


def test_sniff_encoding_orders():
    assert sniff_encoding("中文".encode("gb18030")) == "gb18030"
    assert sniff_encoding("中文".encode("utf-8")) == "utf-8"
    assert sniff_encoding(b"\xef\xbb\xbfab") == "utf-8-sig"
    assert sniff_encoding("a,b\n1,2\n".encode("utf-16-le")) == "utf-16-le"


def test_undecodable_file_is_a_finding(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n\x81\xff\xfe\x00\x81,\xff\n")
    with pytest.raises(DataError) as err:
        read_table(path)
    assert "bad.csv" in str(err.value) and "UTF-8" in str(err.value)


def test_csv_with_too_many_fields_names_each_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("instruction,output\nok,fine\nbad,has,comma\n\"multi\nline\",x\nalso,bad,one\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_table(path)
    lines = [f.line for f in err.value.findings]
    assert lines == [3, 6]
    assert "line 3" in err.value.findings[0].one_line() and "3 fields" in err.value.findings[0].message


def test_csv_unclosed_quote_names_its_line(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('instruction,output\nok,fine\n"never closed,x\nmore,rows\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_table(path)
    assert err.value.findings[0].line == 3 and "quote" in err.value.findings[0].message


def test_jsonl_bad_lines_all_reported(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ZH, ensure_ascii=False) + "\n\n{\"instruction\": \"x\",}\n[1, 2]\n"
                    + json.dumps(ZH, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_table(path)
    assert [(f.line, f.row) for f in err.value.findings] == [(3, 2), (4, 3)]
    assert "not valid JSON" in err.value.findings[0].message
    assert "expected a JSON object" in err.value.findings[1].message


def test_json_array_lines_and_syntax_error(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([ZH, {"instruction": "b", "output": "c"}], ensure_ascii=False, indent=2),
                    encoding="utf-8")
    table = read_table(good)
    assert table.rows[0] == ZH and table.lines == [2, 7]
    bad = tmp_path / "bad.json"
    bad.write_text('[\n  {"instruction": "a", "output": "b"}\n  {"instruction": "c", "output": "d"}\n]\n')
    with pytest.raises(DataError) as err:
        read_table(bad)
    assert err.value.findings[0].line == 3


def test_parquet_and_xlsx(tmp_path):
    import pandas as pd

    frame = pd.DataFrame([ZH, {"instruction": "Name a colour.", "input": "", "output": "Blue"}])
    frame.to_parquet(tmp_path / "d.parquet")
    assert read_table(tmp_path / "d.parquet").rows[0] == ZH
    frame.to_excel(tmp_path / "d.xlsx", index=False)
    table = read_table(tmp_path / "d.xlsx")
    assert table.rows[0] == ZH and table.lines == [2, 3]


def test_parquet_keeps_nested_conversations(tmp_path):
    import pandas as pd

    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    pd.DataFrame(rows).to_parquet(tmp_path / "c.parquet")
    loaded = load_rows(str(tmp_path / "c.parquet"))
    assert loaded.format == "messages" and loaded.table.rows == rows


def test_committed_xls_sample():
    table = read_table(SAMPLES / "alpaca_zh_en.xls")
    assert table.rows[0] == ZH and len(table.rows) == 3


def test_save_to_disk_folders(tmp_path):
    from datasets import Dataset, DatasetDict

    ds = Dataset.from_list([ZH, {"instruction": "b", "input": "", "output": "c"}])
    ds.save_to_disk(str(tmp_path / "single"))
    assert read_table(tmp_path / "single").rows[0] == ZH
    DatasetDict({"train": ds, "test": ds.select([1])}).save_to_disk(str(tmp_path / "dict"))
    assert len(read_table(tmp_path / "dict").rows) == 2  # train by default
    assert len(read_table(f"{tmp_path / 'dict'}#test").rows) == 1
    DatasetDict({"a": ds, "b": ds}).save_to_disk(str(tmp_path / "ambiguous"))
    with pytest.raises(DataError) as err:
        read_table(tmp_path / "ambiguous")
    assert "#a" in str(err.value)


def test_llamafactory_folder_mappings(tmp_path):
    folder = tmp_path / "lf"
    folder.mkdir()
    info = {
        "qa": {"file_name": "qa.json", "columns": {"prompt": "q", "query": "ctx", "response": "a", "system": "sys"}},
        "chat": {"file_name": "chat.jsonl", "formatting": "sharegpt", "columns": {"messages": "turns"},
                 "tags": {"role_tag": "speaker", "content_tag": "text", "user_tag": "U", "assistant_tag": "A"}},
        "rank": {"file_name": "rank.json", "ranking": True},
        "kto": {"file_name": "kto.json", "columns": {"kto_tag": "good"}},
        "hub": {"hf_hub_url": "someone/data"},
    }
    (folder / "dataset_info.json").write_text(json.dumps(info))
    (folder / "qa.json").write_text(json.dumps([{"q": ZH["instruction"], "ctx": ZH["input"], "a": ZH["output"],
                                                 "sys": "Be brief."}], ensure_ascii=False))
    turns = [{"speaker": "U", "text": "Weather?"},
             {"speaker": "function_call", "text": json.dumps({"name": "weather", "arguments": {"city": "Oslo"}})},
             {"speaker": "observation", "text": "rain"}, {"speaker": "A", "text": "It rains."}]
    (folder / "chat.jsonl").write_text(json.dumps({"turns": turns}) + "\n")
    (folder / "rank.json").write_text(json.dumps([{"instruction": "Hi", "input": "", "chosen": "Hello!",
                                                   "rejected": "Go away."}]))
    (folder / "kto.json").write_text(json.dumps([{"instruction": "Hi", "output": "Hello!", "good": True}]))

    qa = load_rows(f"{folder}#qa")
    assert qa.format == "alpaca" and qa.table.rows[0] == dict(ZH, system="Be brief.")
    chat = load_rows(f"{folder}#chat")
    msgs = chat.table.rows[0]["messages"]
    assert chat.format == "messages" and [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"]
    call = msgs[1]["tool_calls"][0]["function"]
    assert call["name"] == "weather" and json.loads(call["arguments"]) == {"city": "Oslo"}
    rank = load_rows(f"{folder}#rank")
    assert rank.format == "preference" and rank.table.rows[0]["chosen"] == "Hello!"
    kto = load_rows(f"{folder}#kto")
    assert kto.format == "kto" and kto.table.rows[0]["label"] is True
    with pytest.raises(DataError) as err:
        read_table(folder)
    assert "several" in str(err.value) and "qa" in str(err.value)
    assert load_rows(str(SAMPLES / "llamafactory") + "#qa_zh").table.rows[0] == ZH


def test_plain_text_paragraphs(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("First paragraph\nstill first.\n\n\nSecond one.\n", encoding="utf-8")
    loaded = load_rows(str(path))
    assert loaded.format == "text"
    assert [r["text"] for r in loaded.table.rows] == ["First paragraph\nstill first.", "Second one."]
    assert loaded.table.lines == [1, 5]


def test_a_broken_file_is_reported_in_the_viewers_language(workspace, tmp_path, monkeypatch, capsys):
    """Issue 9: a Chinese viewer reads a reader's finding in Chinese, still naming the file and the line;
    the parser's own message (json's "Expecting ...") stays as it is inside the translated sentence."""
    import re

    from studio.cli import main
    from studio.data.session import findings_rows, open_data

    cjk = re.compile(r"[\u4e00-\u9fff]")
    path = tmp_path / "坏数据.jsonl"
    path.write_text(json.dumps(ZH, ensure_ascii=False) + '\n{"instruction": "x",}\n[1, 2]\n', encoding="utf-8")
    session = open_data(path)  # what the Data page does with an upload (the file is parsed in the worker)
    rows = findings_rows(session.findings, lang="zh")
    assert [r[:2] for r in rows] == [["错误", "第 2 行"], ["错误", "第 3 行"]]
    assert rows[0][3] == "不是有效的 JSON（第 21 列：Expecting property name enclosed in double quotes）"
    assert rows[1][3] == "应为一个 JSON 对象，实际是 list" and cjk.search(rows[1][4])
    with pytest.raises(DataError) as err:
        read_table(path)
    assert err.value.one_line("zh").startswith("坏数据.jsonl，第 2 行：不是有效的 JSON")
    assert "（另有 1 个问题）" in err.value.one_line("zh")
    assert err.value.one_line("en").startswith("坏数据.jsonl, line 2: not valid JSON (Expecting property name")

    monkeypatch.setenv("STUDIO_LANG", "zh")
    assert main(["data", "check", str(path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == ("错误: 坏数据.jsonl，第 2 行：不是有效的 JSON（第 21 列：Expecting property name enclosed in "
                        "double quotes） — 请修改或删除这一行")
    assert main(["data", "check", str(tmp_path / "none.csv")]) == 1
    missing = capsys.readouterr().out.strip()  # a keyed StudioError becomes a finding that keeps its key
    assert missing.startswith(f"错误: {tmp_path / 'none.csv'}：找不到数据") and "check the path" not in missing
    assert main(["data", "check", str(tmp_path / "none.csv"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["findings"][0]["key"] == "data_prepare.not_found" and report["findings"][0]["args"]
    assert main(["data", "check", str(SAMPLES / "alpaca_zh_excel_gbk.csv")]) == 0
    assert capsys.readouterr().err.strip() == "alpaca_zh_excel_gbk.csv：共 2 行，格式 alpaca，没有发现问题"
