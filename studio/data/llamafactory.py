"""LLaMA-Factory dataset folders: `dataset_info.json` names each dataset, its file and column mapping.

Each entry (see LLaMA-Factory's data/README.md) has `file_name`, `formatting` (alpaca | sharegpt),
optional `ranking` (preference pairs), `columns` (schema name -> the file's column) and, for
sharegpt, `tags` (which role names the file uses). We read the file with the ordinary readers and
rename into the studio's own formats, so everything after this (checks, preview, training) is the
same as for any other file.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import convo
from .findings import DataError, Finding

INFO = "dataset_info.json"

ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "history": "history",
                  "system": "system", "chosen": "chosen", "rejected": "rejected", "kto_tag": "kto_tag"}
SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system", "tools": "tools", "chosen": "chosen",
                    "rejected": "rejected", "kto_tag": "kto_tag"}


def _entry(folder: Path, name: str | None) -> tuple[str, dict]:
    try:
        info = json.loads((folder / INFO).read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError([Finding("error", f"not valid JSON ({exc.msg} at column {exc.colno})", "fix the file",
                                 file=f"{folder.name}/{INFO}", line=exc.lineno)]) from None
    local = {k: v for k, v in info.items() if isinstance(v, dict) and v.get("file_name")}
    if name is None and len(local) == 1:
        name = next(iter(local))
    if name not in local:
        names = ", ".join(local) or "none"
        what = f"has no local dataset '{name}'" if name else "describes several datasets"
        raise DataError([Finding("error", f"{what} (local ones: {names})",
                                 f"pick one as {folder}#NAME", file=f"{folder.name}/{INFO}")])
    return name, local[name]


def read(folder: Path, name: str | None):
    from .readers import read_table

    name, entry = _entry(folder, name)
    file = folder / entry["file_name"]
    if not file.exists():
        raise DataError([Finding("error", f"dataset '{name}' points to {entry['file_name']}, which is missing",
                                 "copy the file next to dataset_info.json", file=f"{folder.name}/{INFO}")])
    table = read_table(file)
    sharegpt = entry.get("formatting", "alpaca") == "sharegpt"
    columns = dict(SHAREGPT_COLUMNS if sharegpt else ALPACA_COLUMNS, **(entry.get("columns") or {}))
    if sharegpt:
        tags = dict(convo.SHAREGPT_TAGS, **(entry.get("tags") or {}))
        convert, fmt = _sharegpt(columns, tags, bool(entry.get("ranking")))
    else:
        convert, fmt = _alpaca(columns, bool(entry.get("ranking")))
    if "kto_tag" in (entry.get("columns") or {}):
        fmt = "kto"
    table.rows = [convert(row) for row in table.rows]
    table.format_hint = fmt
    table.file = f"{folder.name}/{entry['file_name']}"
    return table


def _alpaca(col: dict, ranking: bool):
    def base(row: dict) -> dict:
        out = {"instruction": row.get(col["prompt"], ""), "input": row.get(col["query"]) or ""}
        for key in ("system", "history"):
            if row.get(col[key]):
                out[key] = row[col[key]]
        return out

    def plain(row: dict) -> dict:
        out = base(row)
        if col["kto_tag"] in row:
            prompt = convo.alpaca_prompt(out, None)
            return {"prompt": prompt, "completion": row.get(col["response"], ""), "label": row[col["kto_tag"]]}
        out["output"] = row.get(col["response"], "")
        return out

    def ranked(row: dict) -> dict:
        return {"prompt": convo.alpaca_prompt(base(row), None), "chosen": row.get(col["chosen"]),
                "rejected": row.get(col["rejected"])}

    return (ranked, "preference") if ranking else (plain, "alpaca")


def _sharegpt(col: dict, tags: dict, ranking: bool):
    def messages(row: dict) -> list:
        turns = row.get(col["messages"])
        if not isinstance(turns, list):
            return turns  # left for the format check to report with its row
        msgs = convo.sharegpt_to_messages(turns, tags)
        if row.get(col["system"]):
            msgs = [{"role": "system", "content": row[col["system"]]}] + msgs
        return msgs

    def with_tools(row: dict, out: dict) -> dict:
        if row.get(col["tools"]):
            out["tools"] = row[col["tools"]]
        return out

    def plain(row: dict) -> dict:
        msgs = messages(row)
        if col["kto_tag"] in row and isinstance(msgs, list) and msgs:
            return {"prompt": msgs[:-1], "completion": msgs[-1:], "label": row[col["kto_tag"]]}
        return with_tools(row, {"messages": msgs})

    def one(value) -> list:
        return convo.sharegpt_to_messages([value], tags) if isinstance(value, dict) else value

    def ranked(row: dict) -> dict:
        return with_tools(row, {"prompt": messages(row), "chosen": one(row.get(col["chosen"])),
                                "rejected": one(row.get(col["rejected"]))})

    return (ranked, "preference") if ranking else (plain, "messages")
