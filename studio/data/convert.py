"""Rows of one format rewritten in another (`studio data convert`, the Data tab's "convert to").

Conversational formats meet in one shape, the full OpenAI `messages` list; preference and KTO rows
convert into each other the way trl does (`unpair_preference_dataset`: chosen -> label true,
rejected -> label false; and back by pairing rows that share a prompt). A row that cannot be
expressed in the target format is a finding naming that row, and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import StudioError
from . import convo, formats
from .findings import DataError, Finding


class Unfit(ValueError):
    """Why a row cannot be written in the target format: `key` names a text under data_convert
    ("cannot be written as {target}: ..."), so the finding reads in the viewer's language."""

    def __init__(self, key: str, **args):
        super().__init__(key)
        self.key, self.args_ = key, args


def _turns(value, role: str) -> list[dict]:
    return convo.normalize_messages(value) if isinstance(value, list) else [{"role": role, "content": value}]


def _system(row: dict, msgs: list[dict]) -> list[dict]:
    if row.get("system") and not any(m.get("role") == "system" for m in msgs):
        return [{"role": "system", "content": row["system"]}] + msgs
    return msgs


def to_messages(row: dict, fmt: str) -> list[dict]:
    """The whole conversation a row stands for, answer included; `Unfit` when it has none."""
    if fmt == "alpaca":
        return convo.alpaca_prompt(row, None) + [{"role": "assistant", "content": row["output"]}]
    if fmt == "sharegpt":
        return formats._sharegpt_messages(row)
    if fmt == "messages":
        return convo.normalize_messages(row["messages"])
    if fmt == "completion":
        return _system(row, _turns(row["prompt"], "user") + _turns(row["completion"], "assistant"))
    if fmt == "preference":
        return _system(row, _turns(row["prompt"], "user") + _turns(row["chosen"], "assistant"))
    if fmt == "kto":
        if not formats._label(row["label"]):
            raise Unfit("data_convert.false_label")
        return _system(row, _turns(row["prompt"], "user") + _turns(row["completion"], "assistant"))
    if fmt == "prompt":
        answer = row.get("answer")
        return _system(row, _turns(row["prompt"], "user") + ([{"role": "assistant", "content": answer}]
                                                             if answer else []))
    raise Unfit("data_convert.not_conversation", source=fmt)


def _split_last(msgs: list[dict]) -> tuple[list[dict], dict]:
    if not msgs or msgs[-1].get("role") != "assistant":
        raise Unfit("data_convert.no_answer")
    return msgs[:-1], msgs[-1]


def _from_messages(msgs: list[dict], target: str, row: dict) -> dict:
    if target == "messages":
        out = {"messages": msgs}
    elif target == "sharegpt":
        out = {"conversations": convo.messages_to_sharegpt(msgs)}
    elif target == "alpaca":
        out = convo.messages_to_alpaca(msgs)
        if out is None:
            raise Unfit("data_convert.not_alpaca")
        return out
    elif target == "completion":
        prompt, last = _split_last(msgs)
        return {"prompt": prompt, "completion": [last]}
    elif target == "prompt":
        prompt, last = _split_last(msgs)
        return {"prompt": prompt, "answer": last.get("content") or ""}
    elif target == "text":
        return {"text": "\n\n".join(str(m.get("content") or "") for m in msgs if m.get("content"))}
    else:
        raise Unfit("data_convert.not_target")
    tools = convo.tools_text(row.get("tools"))
    return dict(out, tools=tools) if tools else out


def _unpair(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        base = {k: v for k, v in r.items() if k not in ("chosen", "rejected")}
        out += [dict(base, completion=r["chosen"], label=True), dict(base, completion=r["rejected"], label=False)]
    return out


def _pair(rows: list[dict], file: str, lines) -> list[dict]:
    """KTO rows with the same prompt -> preference pairs (first good with first bad completion)."""
    groups: dict[str, dict] = {}
    for i, r in enumerate(rows):
        key = json.dumps(r["prompt"], sort_keys=True, ensure_ascii=False)
        slot = groups.setdefault(key, {"prompt": r["prompt"], "good": [], "bad": [], "first": i})
        slot["good" if formats._label(r["label"]) else "bad"].append(r["completion"])
    out, problems = [], []
    for slot in groups.values():
        if not slot["good"] or not slot["bad"]:
            i = slot["first"]
            key = "data_convert.no_bad_pair" if slot["good"] else "data_convert.no_good_pair"
            problems.append(Finding.of("error", key, file=file, line=lines(i), row=i + 1, field="label"))
            continue
        for good, bad in zip(slot["good"], slot["bad"]):
            out.append({"prompt": slot["prompt"], "chosen": good, "rejected": bad})
    if problems:
        raise DataError(problems)
    return out


def convert_rows(rows: list[dict], source: str, target: str, file: str = "", lines=None) -> list[dict]:
    formats.get(source)
    formats.get(target)
    lines = lines or (lambda i: None)
    if source == target:
        return [dict(r) for r in rows]
    if source == "preference" and target == "kto":
        return _unpair(rows)
    if source == "kto" and target == "preference":
        return _pair(rows, file, lines)
    if target in ("preference", "kto"):
        raise StudioError(key="data_convert.needs_pairs", source=source, target=target)
    out, problems = [], []
    for i, row in enumerate(rows):
        try:
            if target == "text" and source == "alpaca":
                out.append(formats.get("alpaca").converters["text"](row, None))
            else:
                out.append(_from_messages(to_messages(row, source), target, row))
        except Unfit as exc:
            problems.append(Finding.of("error", exc.key, file=file, line=lines(i), row=i + 1, target=target,
                                       **exc.args_))
        except ValueError as exc:  # a library's own words
            problems.append(Finding.of("error", "data_convert.cannot_write", target=target, detail=str(exc), file=file,
                                       line=lines(i), row=i + 1))
    if problems:
        raise DataError(problems)
    return out


def convert_file(path: str, target: str, out: Path, fmt: str = "auto", columns: dict | None = None,
                 workspace_root: Path | None = None) -> tuple[Path, int]:
    """Read, check and convert `path`, then write JSONL at `out` atomically (nothing on failure)."""
    from ..atomic import write_jsonl
    from .prepare import load_rows

    loaded = load_rows(path, fmt, columns, workspace_root)
    table = loaded.table
    rows = convert_rows(table.rows, loaded.format, target, table.file, table.line_of)
    out = Path(out)
    if out.suffix.lower() != ".jsonl":
        raise StudioError(key="data_convert.jsonl_only", name=out.name)
    write_jsonl(out, rows)
    return out, len(rows)
