"""Pairwise judging: which of two answers is better, asked in both orders to cancel position bias.

The tuned answer wins an example only when the judge prefers it in both orders; it loses when the
judge prefers the base in both; anything else is a tie. Replies that name no choice are counted as
invalid and left out of the win rate, never guessed.
"""

from __future__ import annotations

import re
from typing import Callable

PROMPT = (
    "You compare two answers to the same question.\n\n"
    "Question:\n{question}\n\nReference answer:\n{reference}\n\n"
    "Answer A:\n{a}\n\nAnswer B:\n{b}\n\n"
    "Which answer is better: more correct, and closer to the reference? "
    "Reply with one letter only: A, B, or T for a tie."
)
_CHOICE = re.compile(r"\b([ABT])\b")


def parse(reply: str) -> str | None:
    """'A', 'B' or 'T' from a judge's reply; None when it names none (or several)."""
    found = set(_CHOICE.findall((reply or "").strip().upper()))
    return found.pop() if len(found) == 1 else None


def ask(question: str, reference: str, a: str, b: str) -> list[dict]:
    return [{"role": "user", "content": PROMPT.format(question=question, reference=reference, a=a, b=b)}]


def verdict(first: str | None, second: str | None) -> str:
    """tuned as B in the first question, as A in the second -> 'win' / 'loss' / 'tie' / 'invalid'."""
    if first is None or second is None:
        return "invalid"
    if first == "B" and second == "A":
        return "win"
    if first == "A" and second == "B":
        return "loss"
    return "tie"


def judge_all(complete: Callable[[list[list[dict]]], list[str]], rows: list[dict]) -> list[dict]:
    """rows: {"question", "reference", "base", "tuned"} -> {"verdict", "replies"} per row."""
    asks = []
    for r in rows:
        asks.append(ask(r["question"], r["reference"], r["base"], r["tuned"]))
        asks.append(ask(r["question"], r["reference"], r["tuned"], r["base"]))
    replies = complete(asks)
    out = []
    for i in range(len(rows)):
        first, second = replies[2 * i], replies[2 * i + 1]
        out.append({"verdict": verdict(parse(first), parse(second)), "replies": [first, second]})
    return out


def win_rate(verdicts: list[str]) -> dict:
    counts = {k: verdicts.count(k) for k in ("win", "loss", "tie", "invalid")}
    valid = counts["win"] + counts["loss"] + counts["tie"]
    rate = (counts["win"] + 0.5 * counts["tie"]) / valid if valid else None
    return dict(counts, win_rate=None if rate is None else round(rate, 4))
