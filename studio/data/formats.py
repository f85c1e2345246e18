"""Named data shapes: their fields, how they are recognised, checked and turned into trl rows.

A *format* is what the user's file looks like (alpaca, sharegpt, messages, preference, kto, prompt,
completion, text). A *target* is what a training stage consumes (see `TARGETS`). `convert(row, fmt, target)`
maps one onto the other; an impossible pairing raises a StudioError saying what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import StudioError
from . import convo
from .findings import Finding

# target -> what it is, for messages
TARGETS = {
    "sft": "instruction rows or conversations",
    "text": "plain text",
    "preference": "preference pairs (prompt, chosen, rejected)",
    "unpaired": "unpaired feedback (prompt, completion, label)",
    "prompt": "prompts (with an optional reference answer)",
}

Problem = tuple[str, str, dict]  # field, translation key (studio/locales/*/data_formats.yaml), its arguments


def _text_problems(row: dict, fields: tuple[str, ...], required: bool) -> list[Problem]:
    out: list[Problem] = []
    for name in fields:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                out.append((name, "data_formats.empty", {"name": name}))
        elif not isinstance(value, str):
            out.append((name, "data_formats.not_text", {"kind": type(value).__name__, "value": repr(value)}))
    return out


def _turn_problems(turns: Any, field: str, role_key: str, text_key: str, roles: frozenset[str] | None = None,
                   need_answer: bool = True) -> list[Problem]:
    if not isinstance(turns, list) or not turns:
        return [(field, "data_formats.no_turns", {"role": role_key, "text": text_key})]
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or role_key not in turn:
            return [(f"{field}[{i}]", "data_formats.turn_no_role", {"role": role_key, "text": text_key})]
        if roles is not None and turn[role_key] not in roles:
            return [(f"{field}[{i}].{role_key}", "data_formats.unknown_role",
                     {"value": repr(turn[role_key]), "roles": ", ".join(sorted(roles))})]
        content = turn.get(text_key)
        if content is not None and not isinstance(content, (str, list)):
            return [(f"{field}[{i}].{text_key}", "data_formats.turn_not_text", {"kind": type(content).__name__})]
        if (content is None or content == "") and not (turn.get("tool_calls") or turn.get("function_call")) \
                and turn[role_key] not in ("function_call",):
            return [(f"{field}[{i}].{text_key}", "data_formats.turn_empty", {})]
    if need_answer and roles is not None and not any(convo_role(t.get(role_key)) == "assistant" for t in turns):
        return [(field, "data_formats.no_answer", {})]
    return []


def convo_role(name: Any) -> str | None:
    return {"gpt": "assistant", "function_call": "assistant", "assistant": "assistant"}.get(name, name)


MESSAGE_ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
SHAREGPT_FROM = frozenset({"system", "human", "user", "gpt", "assistant", "function_call", "observation", "tool"})


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "function_call": "assistant", "observation": "tool", "tool": "tool"}


def _sharegpt_messages(row: dict) -> list[dict]:
    msgs = convo.sharegpt_to_messages(row["conversations"])
    if row.get("system"):
        msgs.insert(0, {"role": "system", "content": row["system"]})
    return msgs


def _alpaca_prompt(row: dict, system: str | None) -> list[dict]:
    return convo.alpaca_prompt(row, system)


def _with_tools(row: dict, out: dict) -> dict:
    tools = convo.tools_text(row.get("tools"))
    return dict(out, tools=tools) if tools else out


def _history_problems(row: dict) -> list[Problem]:
    history = row.get("history")
    if history in (None, "", []):
        return []
    if not isinstance(history, list) or not all(isinstance(p, (list, tuple)) and len(p) == 2
                                                and all(isinstance(x, str) for x in p) for p in history):
        return [("history", "data_formats.bad_history", {})]
    return []


def _pair_problems(r: dict) -> list[Problem]:
    out: list[Problem] = []
    prompt = r.get("prompt")
    if isinstance(prompt, list):
        out += _turn_problems(prompt, "prompt", "role", "content", MESSAGE_ROLES, need_answer=False)
    else:
        out += _text_problems(r, ("prompt",), True)
    for name in ("chosen", "rejected"):
        value = r.get(name)
        if isinstance(value, list):
            out += _turn_problems(value, name, "role", "content", MESSAGE_ROLES)
        else:
            out += _text_problems(r, (name,), True)
    if r.get("chosen") == r.get("rejected") and r.get("chosen") not in (None, ""):
        out.append(("rejected", "data_formats.same_answers", {}))
    return out


def _side_problems(r: dict, name: str, answer: bool) -> list[Problem]:
    """A prompt or completion given either as text or as a list of role/content turns."""
    if isinstance(r.get(name), list):
        return _turn_problems(r[name], name, "role", "content", MESSAGE_ROLES, need_answer=answer)
    return _text_problems(r, (name,), True)


def _sharegpt_problems(r: dict) -> list[Problem]:
    turns = r.get("conversations")
    first = turns[0] if isinstance(turns, list) and turns and isinstance(turns[0], dict) else {}
    if "from" not in first and "role" in first:  # ShareGPT files written with OpenAI keys
        return _turn_problems(turns, "conversations", "role", "content", MESSAGE_ROLES)
    return _turn_problems(turns, "conversations", "from", "value", SHAREGPT_FROM)


def _label_ok(value: Any) -> bool:
    return isinstance(value, bool) or str(value).strip().lower() in ("true", "false", "1", "0")


def _label(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")


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
    # target -> expander(row, system_prompt) -> several trl rows, for a target this shape feeds by
    # splitting each row (preference pairs -> two unpaired answers for KTO); announced by `conversion_note`
    expanders: dict[str, Callable[[dict, str | None], list[dict]]] = field(default_factory=dict)


FORMATS: dict[str, Format] = {}


def _register(fmt: Format) -> None:
    FORMATS[fmt.name] = fmt


_register(Format(
    "alpaca", ("instruction", "output"), ("input", "system", "history"),
    "instruction rows (instruction, input, output)",
    check=lambda r: _text_problems(r, ("instruction", "output"), True) + _text_problems(r, ("input", "system"), False)
    + _history_problems(r),
    converters={
        "sft": lambda r, s: {"prompt": _alpaca_prompt(r, s), "completion": [{"role": "assistant", "content": r["output"]}]},
        "prompt": lambda r, s: {"prompt": _alpaca_prompt(r, s), "answer": r["output"]},
        "text": lambda r, s: {"text": "\n\n".join(x for x in (r["instruction"], r.get("input") or "", r["output"]) if x)},
    },
))
_register(Format(
    "sharegpt", ("conversations",), ("system", "tools"),
    "ShareGPT conversations (conversations of from/value)",
    check=_sharegpt_problems,
    converters={"sft": lambda r, s: _with_tools(r, {"messages": _with_system(_sharegpt_messages(r), s)})},
))
_register(Format(
    "messages", ("messages",), ("tools",),
    "OpenAI-style conversations (messages of role/content)",
    check=lambda r: _turn_problems(r.get("messages"), "messages", "role", "content", MESSAGE_ROLES),
    converters={"sft": lambda r, s: _with_tools(r, {"messages": _with_system(convo.normalize_messages(r["messages"]), s)})},
))
_register(Format(
    "preference", ("prompt", "chosen", "rejected"), ("system",),
    "preference pairs (prompt, chosen, rejected)",
    check=_pair_problems,
    converters={"preference": lambda r, s: {
        "prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
        "chosen": _as_turns(r["chosen"], "assistant"), "rejected": _as_turns(r["rejected"], "assistant")}},
    expanders={"unpaired": lambda r, s: _pair_as_unpaired(r, s)},
))
_register(Format(
    "kto", ("prompt", "completion", "label"), ("system",),
    "unpaired feedback (prompt, completion, label)",
    check=lambda r: _side_problems(r, "prompt", False) + _side_problems(r, "completion", True)
    + ([] if _label_ok(r.get("label"))
       else [("label", "data_formats.bad_label", {"value": repr(r.get("label"))})]),
    converters={"unpaired": lambda r, s: {
        "prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
        "completion": _as_turns(r["completion"], "assistant"),
        "label": _label(r["label"])}},
))
_register(Format(
    "prompt", ("prompt",), ("answer", "system"),
    "prompts with an optional reference answer (prompt, answer)",
    check=lambda r: _side_problems(r, "prompt", False) + _text_problems(r, ("answer",), False),
    converters={"prompt": lambda r, s: {"prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
                                        "answer": str(r.get("answer") or "")}},
))
_register(Format(
    "completion", ("prompt", "completion"), ("system",),
    "prompt and completion pairs (prompt, completion)",
    check=lambda r: _side_problems(r, "prompt", False) + _side_problems(r, "completion", True),
    converters={"sft": lambda r, s: {
        "prompt": _with_system(_as_turns(r["prompt"], "user"), r.get("system") or s),
        "completion": _as_turns(r["completion"], "assistant")}},
))
_register(Format(
    "text", ("text",), (),
    "plain text (text)",
    check=lambda r: _text_problems(r, ("text",), True),
    converters={"text": lambda r, s: {"text": r["text"]}},
))


# (format, target) -> the finding announcing an expanding conversion (locale key)
EXPAND_NOTES = {("preference", "unpaired"): "data_prepare.kto_from_pairs"}


def _pair_as_unpaired(row: dict, system: str | None) -> list[dict]:
    """One preference pair as two unpaired answers, as trl's `unpair_preference_dataset` does: the chosen
    answer is desirable (label true), the rejected one undesirable (label false)."""
    prompt = _with_system(_as_turns(row["prompt"], "user"), row.get("system") or system)
    return [{"prompt": prompt, "completion": _as_turns(row[side], "assistant"), "label": side == "chosen"}
            for side in ("chosen", "rejected")]


def convert_rows(fmt: Format, target: str, rows: list[dict], system: str | None = None) -> list[dict]:
    """Rows of `fmt` as trl rows for `target`: one each, or several where the format splits a row."""
    if target not in fmt.converters and target in fmt.expanders:
        expand = fmt.expanders[target]
        return [out for r in rows for out in expand(r, system)]
    convert = converter(fmt, target)
    return [convert(r, system) for r in rows]


def conversion_finding(fmt: Format, target: str, rows: int, file: str | None = None) -> Finding | None:
    """What a split conversion did to the data, as an info finding for the run's log (None: rows map one
    to one)."""
    if target in fmt.converters or target not in fmt.expanders:
        return None
    return Finding.of("info", EXPAND_NOTES[(fmt.name, target)], file=file, rows=rows, out=2 * rows)


def conversion_note(fmt: Format, target: str, rows: int, lang: str = "en") -> str | None:
    """The same as one line of text in `lang`."""
    found = conversion_finding(fmt, target, rows)
    return found.text(lang) if found else None


def detect(columns: set[str]) -> str | None:
    """The format whose required fields are all present, preferring the most specific."""
    matches = [f for f in FORMATS.values() if set(f.required) <= columns]
    if not matches:
        return None
    return max(matches, key=lambda f: len(f.required)).name


def get(name: str) -> Format:
    if name not in FORMATS:
        raise StudioError(key="data_formats.unknown_format", name=name, formats=", ".join(FORMATS))
    return FORMATS[name]


def converter(fmt: Format, target: str) -> Callable[[dict, str | None], dict]:
    """One row -> one trl row; refuses a pairing that cannot work (an expanding one: use `convert_rows`)."""
    if target not in fmt.converters and target in fmt.expanders:
        return lambda r, s: fmt.expanders[target](r, s)[0]
    if target not in fmt.converters:
        usable = [f.name for f in FORMATS.values() if target in f.converters]
        raise StudioError(key="data_formats.wrong_target", target=target, needs=TARGETS.get(target, target),
                          format=fmt.name, description=fmt.description, usable=", ".join(usable),
                          stages=_fitting_stages(fmt))
    return fmt.converters[target]


def _fitting_stages(fmt: Format) -> str:
    """The training stages this data can feed, named in the refusal above (imported lazily: error path only)."""
    from ..stages import REGISTRY

    names = [stage.name for stage in REGISTRY if stage.data_target in fmt.converters or stage.data_target in
             fmt.expanders]
    return f" ({', '.join(names)})" if names else ""
