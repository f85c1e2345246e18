"""LLaMA-Factory dataset folders: `dataset_info.json` names each dataset, its file and column mapping.

Each entry (see LLaMA-Factory's data/README.md) has `file_name`, `formatting` (alpaca | sharegpt),
optional `ranking` (preference pairs), `columns` (schema name -> the file's column) and, for
sharegpt, `tags` (which role names the file uses). We read the file with the ordinary readers and
rename into the studio's own formats, so everything after this (checks, preview, training) is the
same as for any other file.

Pretraining entries (`columns: {prompt: text}` and nothing else, as LLaMA-Factory's c4_demo and
wiki_demo) are read as plain text. Entries that name no local file (`hf_hub_url`, `ms_hub_url`,
`om_hub_url`, `script_url`, `cloud_file_name`) cannot be read offline: each one is skipped with a note
saying so (and asking for one of them by name says why it cannot be read).

The file itself is read by the caller's reader (`read(folder, name, read_file)`), so this module does
not import `readers` back (readers -> llamafactory, one way).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import convo
from .findings import DataError, Finding

INFO = "dataset_info.json"
REMOTE_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
# the schema names of LLaMA-Factory's columns that make an entry more than pretraining text
NOT_TEXT = ("query", "response", "history", "messages", "chosen", "rejected", "kto_tag", "images", "videos",
            "audios", "tools")

ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "history": "history",
                  "system": "system", "chosen": "chosen", "rejected": "rejected", "kto_tag": "kto_tag"}
SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system", "tools": "tools", "chosen": "chosen",
                    "rejected": "rejected", "kto_tag": "kto_tag"}


def _info(folder: Path) -> dict:
    try:
        return json.loads((folder / INFO).read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError([Finding.of("error", "readers.lf_invalid_json", file=f"{folder.name}/{INFO}",
                                    line=exc.lineno, detail=exc.msg, column=exc.colno)]) from None


def skipped(info: dict) -> dict[str, str]:
    """Entries that cannot be read from the folder, with why: {name: "hf_hub_url: org/name"}."""
    out = {}
    for name, entry in info.items():
        if not isinstance(entry, dict) or entry.get("file_name"):
            continue
        remote = [f"{k}: {entry[k]}" for k in REMOTE_KEYS if entry.get(k)]
        out[name] = remote[0] if remote else "no file_name"
    return out


def _skip_note(folder: Path, name: str, why: str, severity: str = "info") -> Finding:
    return Finding.of(severity, "stages.lf_skipped", file=f"{folder.name}/{INFO}", name=name, why=why)


def _entry(folder: Path, name: str | None) -> tuple[str, dict, list[Finding]]:
    info = _info(folder)
    local = {k: v for k, v in info.items() if isinstance(v, dict) and v.get("file_name")}
    remote = skipped(info)
    if name in remote:
        raise DataError([_skip_note(folder, name, remote[name], "error")])
    if name is None and len(local) == 1:
        name = next(iter(local))
    if name not in local:
        key = "readers.lf_no_local" if not local else "readers.lf_unknown" if name else "readers.lf_several"
        raise DataError([Finding.of("error", key, file=f"{folder.name}/{INFO}", name=name or "",
                                    names=", ".join(local), folder=folder)])
    return name, local[name], [_skip_note(folder, n, why) for n, why in remote.items()]


def is_pretraining(entry: dict) -> bool:
    """LLaMA-Factory's pretraining entries map only the prompt column (`columns: {prompt: text}`)."""
    columns = entry.get("columns") or {}
    return (entry.get("formatting", "alpaca") == "alpaca" and not entry.get("ranking") and "prompt" in columns
            and not any(k in columns for k in NOT_TEXT))


def read(folder: Path, name: str | None, read_file):
    """The entry `name` (the only local one when None) as a Table in a studio format; `read_file` reads a file."""
    name, entry, notes = _entry(folder, name)
    file = folder / entry["file_name"]
    if not file.exists():
        raise DataError([Finding.of("error", "readers.lf_missing_file", file=f"{folder.name}/{INFO}", name=name,
                                    target=entry["file_name"])])
    table = read_file(file)
    sharegpt = entry.get("formatting", "alpaca") == "sharegpt"
    columns = dict(SHAREGPT_COLUMNS if sharegpt else ALPACA_COLUMNS, **(entry.get("columns") or {}))
    if is_pretraining(entry):
        key = columns["prompt"]
        convert, fmt = (lambda row: {"text": row.get(key, row.get("text", ""))}), "text"
    elif sharegpt:
        tags = dict(convo.SHAREGPT_TAGS, **(entry.get("tags") or {}))
        convert, fmt = _sharegpt(columns, tags, bool(entry.get("ranking")))
    else:
        convert, fmt = _alpaca(columns, bool(entry.get("ranking")))
    if "kto_tag" in (entry.get("columns") or {}):
        fmt = "kto"
    table.rows = [convert(row) for row in table.rows]
    table.format_hint = fmt
    table.file = f"{folder.name}/{entry['file_name']}"
    table.notes = list(table.notes) + notes
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
