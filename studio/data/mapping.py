"""Column mapping: when a file's column names differ from a format's schema.

A mapping is `{your column: schema field}` (DataSpec.columns, CLI `--map question=instruction`).
`suggest` proposes one from common names (English and Chinese) so the UI can pre-fill its
dropdowns and the CLI can print the `--map` to use; nothing is renamed without the user's mapping.
"""

from __future__ import annotations

from ..errors import StudioError
from . import formats

ALIASES: dict[str, tuple[str, ...]] = {
    "instruction": ("question", "query", "instruct", "task", "problem", "指令", "问题", "任务"),
    "input": ("context", "input_text", "source", "输入", "上下文"),
    "output": ("answer", "response", "output_text", "target", "reply", "回答", "答案", "输出"),
    "prompt": ("question", "query", "instruction", "input", "提示", "问题"),
    "completion": ("response", "answer", "output", "回答"),
    "chosen": ("preferred", "accepted", "good", "better", "response_chosen", "chosen_response", "好回答"),
    "rejected": ("dispreferred", "bad", "worse", "response_rejected", "rejected_response", "差回答"),
    "label": ("kto_tag", "is_good", "thumbs_up", "good", "标签"),
    "answer": ("solution", "reference", "ground_truth", "gold", "output", "答案"),
    "text": ("content", "document", "body", "passage", "文本", "内容"),
    "messages": ("conversation", "dialog", "dialogue", "chat", "turns"),
    "conversations": ("conversation", "dialog", "dialogue"),
    "system": ("system_prompt", "系统提示"),
    "history": ("chat_history", "历史"),
}


def parse(pairs: list[str] | None) -> dict[str, str]:
    """CLI `--map a=b` arguments -> {a: b}."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise StudioError(key="data_store.bad_map", pair=repr(pair))
        out[src.strip()] = dst.strip()
    return out


def for_format(columns: list[str], fmt: str) -> dict[str, str]:
    """A mapping that fills the schema fields of `fmt` missing from `columns` from their usual aliases."""
    schema = formats.get(fmt)
    present = {c.lower(): c for c in columns}
    taken = set(columns)
    mapping: dict[str, str] = {}
    for field in schema.required + schema.optional:
        if field in taken:
            continue
        for alias in ALIASES.get(field, ()):
            src = present.get(alias.lower())
            if src and src not in mapping and src not in schema.required + schema.optional:
                mapping[src] = field
                taken.add(field)
                break
    return mapping


def suggest(columns: list[str]) -> tuple[str | None, dict[str, str]]:
    """(format, mapping): the format detected as is, or else the one a mapping from aliases completes."""
    detected = formats.detect(set(columns))
    if detected:
        return detected, {}
    best: tuple[int, str, dict] | None = None
    for name, schema in formats.FORMATS.items():
        mapping = for_format(columns, name)
        have = set(columns) | set(mapping.values())
        if set(schema.required) <= have:
            score = len(schema.required) * 10 - len(mapping)
            if best is None or score > best[0]:
                best = (score, name, mapping)
    return (best[1], best[2]) if best else (None, {})


def as_args(mapping: dict[str, str]) -> str:
    return " ".join(f"--map {src}={dst}" for src, dst in mapping.items())
