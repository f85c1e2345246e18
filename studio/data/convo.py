"""Conversations in one shape: OpenAI-style messages, whatever the file used (ShareGPT, tool turns).

Tool calls become `{"role": "assistant", "content": "", "tool_calls": [{"type": "function",
"function": {"name", "arguments"}}]}` and their results `{"role": "tool", "content"}`, which is what
Hugging Face chat templates render. `arguments` and a row's `tools` stay JSON *strings*: Arrow would
otherwise merge every row's argument objects into one struct and fill the gaps with nulls (trl
parses a `tools` string itself).
"""

from __future__ import annotations

import json
from typing import Any

# LLaMA-Factory's default tag names for ShareGPT files
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
_STANDARD = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "bot": "assistant",
             "model": "assistant", "system": "system", "tool": "tool", "observation": "tool",
             "function": "tool", "ipython": "tool"}


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def tool_calls_from(value: Any) -> list[dict] | None:
    """ShareGPT's function_call value (JSON text of {name, arguments} or a list of them) as tool_calls."""
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            return None
    calls = data if isinstance(data, list) else [data]
    out = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        out.append({"type": "function", "function": {"name": call["name"],
                                                     "arguments": _json_text(call.get("arguments", {}))}})
    return out


def sharegpt_to_messages(turns: list, tags: dict | None = None) -> list[dict]:
    tags = dict(SHAREGPT_TAGS, **(tags or {}))
    roles = dict(_STANDARD)
    roles.update({tags["user_tag"]: "user", tags["assistant_tag"]: "assistant", tags["system_tag"]: "system",
                  tags["observation_tag"]: "tool", tags["function_tag"]: "function_call"})
    msgs = []
    for turn in turns:
        if not isinstance(turn, dict):
            msgs.append(turn)
            continue
        source = turn.get(tags["role_tag"], turn.get("role"))
        role = roles.get(source, source)
        content = turn.get(tags["content_tag"], turn.get("content"))
        if role == "function_call":
            calls = tool_calls_from(content)
            msgs.append({"role": "assistant", "content": "", "tool_calls": calls} if calls
                        else {"role": "assistant", "content": _json_text(content)})
        else:
            msgs.append({"role": role, "content": content if content is not None else ""})
    return msgs


def messages_to_sharegpt(msgs: list[dict]) -> list[dict]:
    out = []
    for m in msgs:
        if m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": _loads(c["function"].get("arguments"))}
                     for c in m["tool_calls"]]
            out.append({"from": "function_call", "value": json.dumps(calls[0] if len(calls) == 1 else calls,
                                                                    ensure_ascii=False)})
            continue
        role = {"user": "human", "assistant": "gpt", "tool": "observation"}.get(m.get("role"), m.get("role"))
        out.append({"from": role, "value": m.get("content") or ""})
    return out


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def normalize_messages(msgs: list) -> list:
    """OpenAI messages with legacy `function_call`, role `function` or dict arguments made uniform."""
    out = []
    for m in msgs:
        if not isinstance(m, dict):
            out.append(m)
            continue
        m = dict(m)
        m["role"] = _STANDARD.get(m.get("role"), m.get("role"))
        if m.get("function_call") and not m.get("tool_calls"):
            m["tool_calls"] = tool_calls_from(m.pop("function_call")) or []
        m.pop("function_call", None)
        if m.get("tool_calls"):
            m["tool_calls"] = [{"type": c.get("type", "function"),
                                "function": {"name": c["function"]["name"],
                                             "arguments": _json_text(c["function"].get("arguments", {}))}}
                               for c in m["tool_calls"] if isinstance(c, dict) and isinstance(c.get("function"), dict)]
        else:
            m.pop("tool_calls", None)
        if m.get("content") is None:
            m["content"] = ""
        out.append(m)
    return out


def tools_text(value: Any) -> str | None:
    if value in (None, "", []):
        return None
    return _json_text(value)


def alpaca_prompt(row: dict, system: str | None) -> list[dict]:
    """The conversation an alpaca row stands for, up to (not including) its answer."""
    msgs: list[dict] = []
    sys_text = row.get("system") or system
    if sys_text:
        msgs.append({"role": "system", "content": sys_text})
    for pair in row.get("history") or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            msgs += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    user = str(row.get("instruction") or "").strip()
    extra = row.get("input")
    if isinstance(extra, str) and extra.strip():
        user = f"{user}\n\n{extra.strip()}"
    msgs.append({"role": "user", "content": user})
    return msgs


def messages_to_alpaca(msgs: list[dict]) -> dict | None:
    """The last user/assistant exchange as an alpaca row, earlier exchanges as history (None if not alternating)."""
    system = ""
    turns = list(msgs)
    if turns and turns[0].get("role") == "system":
        system = turns.pop(0).get("content") or ""
    if len(turns) < 2 or len(turns) % 2 or any(
            t.get("role") != ("user" if i % 2 == 0 else "assistant") or t.get("tool_calls")
            for i, t in enumerate(turns)):
        return None
    pairs = [[turns[i]["content"], turns[i + 1]["content"]] for i in range(0, len(turns), 2)]
    row = {"instruction": pairs[-1][0], "input": "", "output": pairs[-1][1]}
    if system:
        row["system"] = system
    if len(pairs) > 1:
        row["history"] = pairs[:-1]
    return row
