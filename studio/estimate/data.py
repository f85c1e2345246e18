"""Row count and token lengths of the run's data, as the estimate plans with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.lengths import guessed_length, lengths_or_guess
from ..errors import StudioError


@dataclass
class DataStats:
    rows: int = 0
    longest: int = 0  # tokens of the longest sequence
    lengths: list[int] = field(default_factory=list)  # tokens per row, `row_token_lengths` (a sample)
    how: str = ""


def data_stats(spec, workspace_root: Path | None, tokenizer=None) -> DataStats | None:
    """Row count and token lengths of the run's data (None when it cannot be read yet)."""
    if not spec.data.path:
        return None
    from .. import stages
    from ..data.prepare import convert_all, load_rows

    try:
        loaded = load_rows(spec.data.path, spec.data.format, spec.data.columns, workspace_root)
        rows = convert_all(loaded, stages.REGISTRY.get(spec.stage).data_target, spec.data.system_prompt)
    except StudioError:
        return None
    if spec.data.max_rows:
        rows = rows[: spec.data.max_rows]
    n_train = len(rows) - (int(round(len(rows) * spec.data.val_size)) if spec.data.val_size > 0 else 0)
    target = stages.REGISTRY.get(spec.stage).data_target
    lengths, counted = lengths_or_guess(sample_rows(rows), target, tokenizer)
    how = "tokens counted with the model's tokenizer" if counted else \
        "tokens guessed at 3 characters each (tokenizer not loaded)"
    return DataStats(rows=max(1, n_train), longest=max(lengths, default=0), lengths=lengths, how=how)


def sample_rows(rows: list[dict], keep: int = 2000) -> list[dict]:
    """All rows, or past `keep` the 200 longest by characters plus an even sample for the mean."""
    if len(rows) <= keep:
        return rows
    by_len = sorted(rows, key=guessed_length)
    return by_len[-200:] + by_len[: -200: max(1, (len(by_len) - 200) // (keep - 200))]


def expected_batch_max(lengths: list[int], batch: int) -> float:
    """Mean length of the longest sequence in a random batch (batches are padded to it)."""
    if not lengths:
        return 0.0
    ordered = sorted(lengths)
    n = len(ordered)
    return sum(v * ((k / n) ** batch - ((k - 1) / n) ** batch) for k, v in enumerate(ordered, 1))


def tokenizer_for(spec):
    """The model's tokenizer if it is on disk (never downloads); None otherwise."""
    from ..models import EMBEDDED, TINY
    from ..models.cache import cache_dir, is_built

    from ..models import templates

    name = spec.model.name
    try:
        from transformers import AutoTokenizer

        if name in (EMBEDDED, TINY):
            path = cache_dir(name) if is_built(name) else None
            if path is None and name == EMBEDDED and is_built("smollm2-tokenizer"):
                path = cache_dir("smollm2-tokenizer")
            tok = AutoTokenizer.from_pretrained(path) if path else None
        elif Path(name).expanduser().is_dir():
            tok = AutoTokenizer.from_pretrained(Path(name).expanduser())
        else:
            tok = AutoTokenizer.from_pretrained(name, local_files_only=True, revision=spec.model.revision)
        if tok is not None and spec.model.chat_template:  # the template the run will render with
            templates.apply(tok, spec.model.chat_template)
        return tok
    except Exception:  # noqa: BLE001 - no tokenizer only makes the lengths a guess
        return None

