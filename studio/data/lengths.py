"""Token length of each row: the one count the runner, the estimate and the Data tab all use.

A row's length is that of its longest sequence as trl tokenizes it (`preview.encode` runs trl's own
preprocessing): the chat template applied, special tokens as trl adds them, and for a preference pair
the longer side (the one max_length cuts first; a batch is padded to it). Without a tokenizer (the
estimate before the model is downloaded) the count is a guess of three characters per token.
"""

from __future__ import annotations

import json

from ..errors import StudioError

CHARS_PER_TOKEN = 3


def row_token_lengths(rows: list[dict], target: str, tokenizer=None, **options) -> list[int]:
    """Tokens per row (converted for `target`: sft, text, preference, unpaired or prompt), in order.

    `options` are `preview.encode`'s (completion_only_loss, assistant_only_loss); they do not change
    a length, only what is trained. With `tokenizer=None` every length is a character-count guess.
    """
    if tokenizer is None:
        return [guessed_length(row) for row in rows]
    from .preview import Preview, encode

    return [Preview(seqs, tokenizer).length for seqs in encode(rows, target, tokenizer, **options)]


def lengths_or_guess(rows: list[dict], target: str, tokenizer=None) -> tuple[list[int], bool]:
    """`row_token_lengths`, falling back to the guess when the tokenizer cannot render the rows
    (a base model without a chat template); the flag says whether the lengths were counted."""
    if tokenizer is not None:
        try:
            return row_token_lengths(rows, target, tokenizer), True
        except StudioError:
            pass
    return row_token_lengths(rows, target, None), False


def guessed_length(row: dict) -> int:
    """About three characters per token over the row's text (the longer side of a preference pair)."""
    def chars(value) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, list):
            return sum(chars(m.get("content", "")) if isinstance(m, dict) else chars(m) for m in value)
        return len(json.dumps(value, ensure_ascii=False)) if value is not None else 0

    prompt = chars(row.get("prompt"))
    if "chosen" in row and "rejected" in row:
        body = prompt + max(chars(row["chosen"]), chars(row["rejected"]))
    elif "messages" in row:
        body = chars(row["messages"])
    elif "completion" in row:
        body = prompt + chars(row["completion"])
    elif "text" in row:
        body = chars(row["text"])
    else:
        body = prompt or sum(chars(v) for v in row.values() if isinstance(v, str))
    return max(1, round(body / CHARS_PER_TOKEN))
