"""`studio data check` / `convert`: exit codes, one line per finding, nothing written on failure."""

from __future__ import annotations

import json

from conftest import SAMPLES
from studio.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_valid_file_exits_0(workspace, capsys):
    code, out, err = _run(capsys, "data", "check", str(SAMPLES / "alpaca_zh_excel_gbk.csv"))
    assert code == 0 and "warning" not in out and "error" not in out
    assert "2 rows, format alpaca" in err and "no problems" in err


def test_check_findings_one_per_line_exit_1(workspace, tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "", "output": "c"}\n'
                    '{"instruction": "d", "output": "e"\n', encoding="utf-8")
    code, out, _ = _run(capsys, "data", "check", str(path))
    assert code == 1
    lines = out.strip().splitlines()
    assert lines == ["error: bad.jsonl, line 3: not valid JSON (Expecting ',' delimiter at column 35) — "
                     "fix or delete this line"]
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "", "output": "c"}\n'
                    '{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    code, out, _ = _run(capsys, "data", "check", str(path))
    assert code == 1
    assert out.splitlines() == ["error: bad.jsonl, line 2, field 'instruction': is empty — fill in 'instruction' "
                                "or delete the row"]


def test_check_warnings_only_still_exit_1_and_json(workspace, tmp_path, capsys):
    path = tmp_path / "dup.jsonl"
    row = json.dumps({"instruction": "a", "output": "b"})
    path.write_text(row + "\n" + row + "\n", encoding="utf-8")
    code, out, _ = _run(capsys, "data", "check", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and report["valid"] is True and report["format"] == "alpaca"
    assert report["findings"][0]["row"] == 2 and "duplicate" in report["findings"][0]["message"]


def test_check_with_map_and_format(workspace, tmp_path, capsys):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nWhat is 2+2?,4\n", encoding="utf-8")
    code, out, _ = _run(capsys, "data", "check", str(path))
    assert code == 1 and "--map question=instruction --map answer=output" in out
    code, out, _ = _run(capsys, "data", "check", str(path), "--map", "question=instruction", "--map",
                        "answer=output")
    assert code == 0 and out == ""
    code, out, _ = _run(capsys, "data", "check", str(path), "--format", "text")
    assert code == 1 and "field 'text': is missing" in out


def test_check_token_lengths(workspace, tiny_model, capsys):
    code, out, err = _run(capsys, "data", "check", str(SAMPLES / "alpaca_zh_excel_gbk.csv"), "--model",
                          "tiny-random-llama", "--max-length", "80")
    assert code == 1 and "longer than max_length 80" in out and "line 3" in out and "line 2," not in out
    assert "tokens min" in err


def test_convert_atomic_and_nothing_on_failure(workspace, tmp_path, capsys):
    out_file = tmp_path / "out.jsonl"
    code, out, err = _run(capsys, "data", "convert", str(SAMPLES / "alpaca_zh_excel_gbk.csv"), "--to", "sharegpt",
                          "-o", str(out_file))
    assert code == 0 and out.strip() == str(out_file) and "wrote 2 sharegpt rows" in err
    first = json.loads(out_file.read_text(encoding="utf-8").splitlines()[0])
    assert first["conversations"][0] == {"from": "human", "value": "将以下句子翻译成英文\n\n今天的天气非常好"}
    before = out_file.read_bytes()
    code, _, err = _run(capsys, "data", "convert", str(SAMPLES / "messages_tools.jsonl"), "--to", "alpaca",
                        "-o", str(out_file))
    assert code == 2 and "line 1:" in err and "cannot be written as alpaca" in err
    assert out_file.read_bytes() == before  # the old output is untouched
    other = tmp_path / "never.jsonl"
    code, _, _ = _run(capsys, "data", "convert", str(SAMPLES / "identity_alpaca.jsonl"), "--to", "preference",
                      "-o", str(other))
    assert code == 2 and not other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "ws"]  # no temporary files left behind
