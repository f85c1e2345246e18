"""No file takes the server down (issue 14, item 3): user files are parsed in a limited worker process.

The xlsx bomb is made here: a real workbook whose sheet XML unpacks to 300 MB (1-2 MB on disk).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psutil
import pytest

from studio.data import parse_worker
from studio.data.findings import DataError, Finding, group_repeated
from studio.data.readers import read_table
from studio.data.session import findings_rows, open_data

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def one_finding(path) -> Finding:
    with pytest.raises(DataError) as info:
        read_table(path)
    assert len(info.value.findings) == 1, info.value.findings
    line = info.value.findings[0].one_line()
    assert "\n" not in line and "Traceback" not in line
    return info.value.findings[0]


def make_bomb(path: Path, unpacked_mb: int = 300) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["instruction", "output"])
    buf = io.BytesIO()
    book.save(buf)
    row = b'<row><c t="inlineStr"><is><t>hello</t></is></c><c t="inlineStr"><is><t>world</t></is></c></row>'
    chunk = row * (2**20 // len(row))
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info, src.read(info.filename))
                continue
            with dst.open(info.filename, "w", force_zip64=True) as out:
                out.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org'
                          b'/spreadsheetml/2006/main"><sheetData>')
                for _ in range(unpacked_mb):
                    out.write(chunk)
                out.write(b"</sheetData></worksheet>")
    return path


def test_xlsx_bomb_is_refused_in_one_line_and_memory_stays_flat(tmp_path):
    bomb = make_bomb(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 5 * 2**20
    read_table(ROOT / "assets" / "samples" / next(p.name for p in (ROOT / "assets" / "samples").iterdir()
                                                  if p.suffix == ".jsonl"))  # warm the fork server
    before = rss_mb()
    finding = one_finding(bomb)
    assert "unpacks to" in finding.message and "MB" in finding.message
    assert rss_mb() - before < 50  # the server process never opened it
    session = open_data(bomb)  # the Data tab's entry point: one finding, no exception
    assert len(session.findings) == 1 and "unpacks to" in session.findings[0].message


def test_parsing_worker_has_a_memory_limit(tmp_path, monkeypatch):
    """With the unpacked-size check raised, the bomb (or any big file) hits the worker's RLIMIT_AS instead."""
    big = tmp_path / "big.csv"
    with big.open("w") as f:
        f.write("instruction,output\n")
        line = "a" * 200 + "," + "b" * 200 + "\n"
        for _ in range(150_000):  # 60 MB of text: several times that once parsed into Python strings
            f.write(line)
    monkeypatch.setenv("STUDIO_PARSE_MEMORY_MB", "150")
    before = rss_mb()
    finding = one_finding(big)
    assert "150 MB" in finding.message
    assert rss_mb() - before < 50
    monkeypatch.setenv("STUDIO_PARSE_TIMEOUT_S", "0.3")
    monkeypatch.setenv("STUDIO_PARSE_MEMORY_MB", "4000")
    assert "seconds" in one_finding(big).message


def test_deep_json_is_one_line_not_a_recursion_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in one_finding(deep).message
    deep_lines = tmp_path / "deep.jsonl"
    deep_lines.write_text('{"instruction": "a", "output": "b"}\n' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "\n")
    finding = one_finding(deep_lines)
    assert "nested too deeply" in finding.message and finding.line == 2


def test_csv_with_a_nul_byte_names_the_line(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"instruction,output\nhi,there\nyo,x\x00y\n")
    finding = one_finding(path)
    assert "NUL" in finding.message and finding.line == 3


def test_rows_are_capped_with_a_clear_message(tmp_path, monkeypatch):
    path = tmp_path / "many.csv"
    path.write_text("instruction,output\n" + "".join(f"q{i},a{i}\n" for i in range(50)))
    monkeypatch.setenv("STUDIO_MAX_ROWS", "10")
    assert "50 rows, more than the limit of 10" in one_finding(path).message


def test_reads_happen_in_another_process(tmp_path):
    assert not parse_worker.inside()
    path = tmp_path / "ok.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n')
    assert read_table(path).rows == [{"instruction": "a", "output": "b"}]


def test_repeated_findings_are_grouped(tmp_path):
    findings = [Finding("warning", "duplicate of row 1", "drop duplicates", file="d.csv", row=i) for i in range(2, 20002)]
    findings.append(Finding("error", "is missing", "add it", file="d.csv", row=5, field="output"))
    grouped = group_repeated(findings)
    assert len(grouped) == 2
    assert grouped[0].message == "20,000 rows: duplicate of row 1" and grouped[0].row == 2
    assert len(findings_rows(findings)) == 2
    assert group_repeated(findings[:3]) == findings[:3]  # a few stay as they are


def test_data_check_prints_one_line_for_many_duplicates(tmp_path):
    path = tmp_path / "dups.csv"
    path.write_text("instruction,output\n" + "same,row\n" * 20_000)
    env = dict(os.environ, PYTHONPATH=str(ROOT), STUDIO_WORKSPACE=str(tmp_path / "ws"))
    out = subprocess.run([sys.executable, "-m", "studio", "data", "check", str(path)], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert len(lines) <= 3, lines[:5]
    assert "19,999 rows: duplicate of row 1" in out.stdout
