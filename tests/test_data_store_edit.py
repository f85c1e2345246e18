"""Editing, versioned saving and export; the Excel-made Chinese CSV goes all the way to training."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES, tiny_spec, train_inline
from studio.data import edit, session, store
from studio.data.findings import DataError
from studio.data.prepare import load_rows, prepare
from studio.errors import StudioError
from studio.spec import DataSpec

ZH = {"instruction": "将以下句子翻译成英文", "input": "今天的天气非常好", "output": "The weather is excellent today"}


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_versions_are_never_overwritten(workspace):
    root = workspace.datasets
    first = store.save_dataset(root, "zh", [ZH], "alpaca")
    before = first.read_bytes()
    second = store.save_dataset(root, "zh", [ZH, dict(ZH, output="Nice weather today")], "alpaca")
    assert (first.name, second.name) == ("v1.jsonl", "v2.jsonl") and first.read_bytes() == before
    assert store.resolve(root, "zh") == second and store.resolve(root, "zh@v1") == first
    assert store.list_datasets(root) == ["zh"]
    assert store.info(root, "zh")["versions"]["2"]["rows"] == 2
    with pytest.raises(StudioError, match="no version"):
        store.resolve(root, "zh@v9")


def test_failed_save_writes_nothing(workspace):
    sess = session.open_data(SAMPLES / "alpaca_zh_excel_gbk.csv")
    sess.rows.append({"instruction": "", "input": "", "output": "x"})
    before = _snapshot(workspace.root)
    with pytest.raises(DataError) as err:
        session.save(sess, workspace.datasets, "broken")
    assert err.value.findings[0].row == 3 and err.value.findings[0].field == "instruction"
    assert _snapshot(workspace.root) == before
    with pytest.raises(StudioError):
        store.save_dataset(workspace.datasets, "empty", [], "alpaca")
    assert _snapshot(workspace.root) == before


def test_grid_round_trip_with_filter_add_and_nested_values():
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
            {"messages": [{"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]}]
    shown = edit.search(rows, "ciao")
    assert shown == [1]
    grid = edit.to_grid(rows, shown, "messages").astype(object)
    assert list(grid.columns) == ["#", "messages"] and grid.iloc[0]["#"] == 2
    grid.loc[0, "messages"] = grid.loc[0, "messages"].replace("ciao", "bye bye")
    grid.loc[1] = ["", json.dumps([{"role": "user", "content": "new"}, {"role": "assistant", "content": "row"}])]
    out = edit.from_grid(rows, grid)
    assert out[0] == rows[0] and out[1]["messages"][1]["content"] == "bye bye" and len(out) == 3
    grid.loc[0, "messages"] = "[{broken"
    with pytest.raises(DataError) as err:
        edit.from_grid(rows, grid)
    assert err.value.findings[0].row == 2 and err.value.findings[0].field == "messages"


def test_row_helpers():
    rows = [{"instruction": str(i), "input": "", "output": "x"} for i in range(10)]
    assert [r["instruction"] for r in edit.delete_rows(rows, "2, 4-9")] == ["0", "2", "9"]
    with pytest.raises(DataError, match="outside"):
        edit.delete_rows(rows, "11")
    deduped, removed = edit.drop_duplicates(rows + rows[:3])
    assert removed == 3 and deduped == rows
    assert edit.shuffle(rows, 1) == edit.shuffle(rows, 1) != rows
    train, val = edit.split(rows, 0.2, seed=3)
    assert len(val) == 2 and len(train) == 8 and sorted(map(str, train + val)) == sorted(map(str, rows))
    assert edit.split(rows, 0.2, seed=3) == (train, val)
    assert edit.search(rows, "re:^[12]$", "instruction") == [1, 2]
    assert edit.add_row(rows, "alpaca")[-1] == {"instruction": "", "input": "", "output": ""}


def test_saved_split_becomes_the_eval_set(workspace):
    rows = [dict(ZH, output=f"answer {i}") for i in range(10)]
    train, val = edit.split(rows, 0.3, seed=0)
    store.save_dataset(workspace.datasets, "split", train, "alpaca", validation=val)
    prepared = prepare(DataSpec(path="split"), "sft", workspace.root)
    assert prepared.rows == 7 and len(prepared.eval) == 3
    own = prepare(DataSpec(path="split", val_size=0.5), "sft", workspace.root)
    assert len(own.eval) + own.rows == 7


def test_export_goes_to_exports_only(workspace):
    out = store.export_jsonl(workspace.exports, "../../etc/passwd", [ZH])
    assert out.parent == workspace.exports and out.name.endswith(".jsonl")
    assert json.loads(out.read_text(encoding="utf-8")) == ZH
    second = store.export_jsonl(workspace.exports, "../../etc/passwd", [ZH])
    assert second != out


def test_excel_gbk_csv_to_training_with_no_manual_step(workspace):
    """The Chinese Alpaca example from an Excel-made GBK CSV, saved, then trained on by name."""
    raw = (SAMPLES / "alpaca_zh_excel_gbk.csv").read_bytes()
    assert raw.decode("gb18030").startswith("instruction,") and b"\r\n" in raw
    sess = session.open_data(SAMPLES / "alpaca_zh_excel_gbk.csv")
    assert sess.format == "alpaca" and sess.rows[0] == ZH and not sess.errors
    path = session.save(sess, workspace.datasets, "zh-alpaca")
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0]) == ZH
    assert load_rows("zh-alpaca", workspace_root=workspace.root).format == "alpaca"
    run_dir, artifacts = train_inline(workspace, tiny_spec("zh-alpaca", max_steps=2, batch_size=2, save_steps=2))
    report = json.loads((run_dir / "data_report.json").read_text())
    assert report["format"] == "alpaca" and report["train_rows"] == 2
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
