"""Named data shapes: their fields, how they are recognised, checked and turned into trl rows.

A *format* is what the user's file looks like (alpaca, sharegpt, messages, preference, kto, prompt,
text). A *target* is what a training stage consumes (see `TARGETS`). `convert(row, fmt, target)`
maps one onto the other; an impossible pairing raises a StudioError saying what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import StudioError

# target -> what it is, for messages
TARGETS = {
    "sft": "instruction rows or conversations",
    "text": "plain text",
    "preference": "preference pairs (prompt, chosen, rejected)",
    "unpaired": "unpaired feedback (prompt, completion, label)",
    "prompt": "prompts (with an optional reference answer)",
}

Problem = tuple[str, str, str]  # field, message, hint


def _text_problems(row: dict, fields: tuple[str, ...], required: bool) -> list[Problem]:
    out: list[Problem] = []
    for name in fields:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                out.append((name, "is empty", f"fill in '{name}' or delete the row"))
        elif not isinstance(value, str):
            out.append((name, f"expected text, found {type(value).__name__} {value!r}",
                        "write it as a quoted string"))
    return out


def _turn_problems(turns: Any, field: str, role_key: str, text_key: str) -> list[Problem]:
    if not isinstance(turns, list) or not turns:
        return [(field, "expected a non-empty list of turns", f"give a list of {{{role_key}, {text_key}}} objects")]
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or role_key not in turn:
            return [(f"{field}[{i}]", f"turn has no '{role_key}'", f"each turn needs '{role_key}' and '{text_key}'")]
        content = turn.get(text_key)
        if content is not None and not isinstance(content, (str, list)):
            return [(f"{field}[{i}].{text_key}", f"expected text, found {type(content).__name__}", "quote it")]
    return []


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "function_call": "assistant", "observation": "tool", "tool": "tool"}


def _sharegpt_messages(row: dict) -> list[dict]:
    msgs = [{"role": SHAREGPT_ROLES.get(t.get("from"), t.get("from")), "content": t.get("value") or ""}
            for t in row["conversations"]]
    if row.get("system"):
        msgs.insert(0, {"role": "system", "content": row["system"]})
    return msgs


def _alpaca_prompt(row: dict, system: str | None) -> list[dict]:
    msgs: list[dict] = []
    sys_text = row.get("system") or system
    if sys_text:
        msgs.append({"role": "system", "content": sys_text})
    for pair in row.get("history") or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            msgs += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    user = row["instruction"].strip()
    if isinstance(row.get("input"), str) and row["input"].strip():
        user = f"{user}\n\n{row['input'].strip()}"
    msgs.append({"role": "user", "content": user})
    return msgs


def _as_turns(value: Any, role: str) -> list[dict]:
    return value if isinstance(value, list) else [{"role": role, "content": value}]


def _with_system(msgs: list[dict], system: str | None) -> list[dict]:
    if system and not any(m.get("role") == "system" for m in msgs):
        return [{"role": "system", "content": system}] + msgs
    return msgs


@dataclass(frozen=True)
class Format:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    description: str
    check: Callable[[dict], list[Problem]]
    # target -> converter(row, system_prompt) -> trl row
    converters: dict[str, Callable[[dict, str | None], dict]]


FORMATS: dict[str, Format] = {}


def _register(fmt: Format) -> None:
    FORMATS[fmt.name] = fmt


_register(Format(
    "alpaca", ("instruction", "output"), ("input", "system", "history"),
    "instruction rows (instruction, input, output)",
    check=lambda r: _text_problems(r, ("instruction", "output"), True) + _text_problems(r, ("input", "system"), False),
    converters={
        "sft": lambda r, s: {"prompt": _alpaca_prompt(r, s), "completion": [{"role": "assistant", "content": r["output"]}]},
        "prompt": lambda r, s: {"prompt": _alpaca_prompt(r, s), "answer": r["output"]},
        "text": lambda r, s: {"text": "\n\n".join(x for x in (r["instruction"], r.get("input") or "", r["output"]) if x)},
    },
))
_register(Format(
    "sharegpt", ("conversations",), ("system", "tools"),
    "ShareGPT conversations (conversations of from/value)",
    check=lambda r: _turn_problems(r.get("conversations"), "conversations", "from", "value"),
    converters={"sft": lambda r, s: {"messages": _with_system(_sharegpt_messages(r), s)}},
))
_register(Format(
    "messages", ("messages",), ("tools",),
    "OpenAI-style conversations (messages of role/content)",
    check=lambda r: _turn_problems(r.get("messages"), "messages", "role", "content"),
    converters={"sft": lambda r, s: {"messages": _with_system(r["messages"], s)}},
))
_register(Format(
    "preference", ("prompt", "chosen", "rejected"), ("system",),
    "preference pairs (prompt, chosen, rejected)",
    check=lambda r: (_text_problems(r, ("prompt",), True) if isinstance(r.get("prompt"), str) else [])
    + [("rejected", "is the same as 'chosen'", "make the two answers differ or drop the row")]
    * (r.get("chosen") == r.get("rejected")),
    converters={"preference": lambda r, s: {
        "prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
        "chosen": _as_turns(r["chosen"], "assistant"), "rejected": _as_turns(r["rejected"], "assistant")}},
))
_register(Format(
    "kto", ("prompt", "completion", "label"), ("system",),
    "unpaired feedback (prompt, completion, label)",
    check=lambda r: _text_problems(r, ("prompt", "completion"), True)
    + ([] if str(r.get("label")).lower() in ("true", "false", "1", "0")
       else [("label", f"expected true/false, found {r.get('label')!r}", "write true or false")]),
    converters={"unpaired": lambda r, s: {
        "prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
        "completion": _as_turns(r["completion"], "assistant"),
        "label": str(r["label"]).lower() in ("true", "1")}},
))
_register(Format(
    "prompt", ("prompt",), ("answer", "system"),
    "prompts with an optional reference answer (prompt, answer)",
    check=lambda r: _text_problems(r, ("prompt",), True),
    converters={"prompt": lambda r, s: {"prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
                                        "answer": str(r.get("answer") or "")}},
))
_register(Format(
    "text", ("text",), (),
    "plain text (text)",
    check=lambda r: _text_problems(r, ("text",), True),
    converters={"text": lambda r, s: {"text": r["text"]}},
))


def detect(columns: set[str]) -> str | None:
    """The format whose required fields are all present, preferring the most specific."""
    matches = [f for f in FORMATS.values() if set(f.required) <= columns]
    if not matches:
        return None
    return max(matches, key=lambda f: len(f.required)).name


def get(name: str) -> Format:
    if name not in FORMATS:
        raise StudioError(f"Unknown data format '{name}'", f"choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]


def converter(fmt: Format, target: str) -> Callable[[dict, str | None], dict]:
    if target not in fmt.converters:
        usable = [f.name for f in FORMATS.values() if target in f.converters]
        raise StudioError(f"This stage trains on {TARGETS.get(target, target)}, but the data is {fmt.description}",
                          f"use data in one of these formats: {', '.join(usable)}, or pick a stage that fits the data")
    return fmt.converters[target]
