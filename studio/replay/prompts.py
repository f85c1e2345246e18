"""The bundled general prompts and their fixed split into a replay (mix) part and a probe part.

The split is by position (every 8th prompt is a probe prompt), so it never changes between runs
or machines: a probe prompt is never trained on, by any run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPTS_FILE = Path(__file__).resolve().parents[2] / "assets" / "general_prompts" / "prompts.jsonl"
PROBE_EVERY = 8


@dataclass(frozen=True)
class Prompt:
    id: str
    lang: str
    topic: str
    text: str

    def conversation(self) -> list[dict]:
        return [{"role": "user", "content": self.text}]


@lru_cache(maxsize=4)
def load(path: Path = PROMPTS_FILE) -> tuple[Prompt, ...]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(Prompt(row["id"], row["lang"], row["topic"], row["prompt"]))
    return tuple(out)


def probe_part(path: Path = PROMPTS_FILE) -> list[Prompt]:
    """Prompts kept out of every run's training data: the "kept" half of the probe report."""
    return [p for i, p in enumerate(load(path)) if i % PROBE_EVERY == 0]


def mix_part(path: Path = PROMPTS_FILE) -> list[Prompt]:
    """Prompts a run may train on, interleaved so any prefix mixes languages and topics."""
    return [p for i, p in enumerate(load(path)) if i % PROBE_EVERY != 0]


def available_for_mix() -> int:
    try:
        return len(mix_part())
    except FileNotFoundError:
        return 0
