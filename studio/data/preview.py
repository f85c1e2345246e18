"""What the model sees: rows tokenized exactly as trl will, with the trained (unmasked) tokens marked.

We do not re-implement trl's masking: `encode` runs the trainers' own `_prepare_dataset` (SFT, DPO,
KTO) on the rows, with trl's default options, and reads back the token ids and labels. Only the
`self` those methods expect is a stand-in (the three attributes they read). Truncation is left out
there and applied here the way trl's `keep_start` does, so a row that would be cut or dropped is
reported instead of vanishing. Prompt-only rows (GRPO and other online stages) train on answers
the model writes itself: their prompt is shown with nothing marked.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace

from .. import i18n
from ..errors import StudioError
from ..models import templates


_STYLE = {True: "background:#fde68a;color:#111;", False: "color:#6b7280;"}
_CUT = "text-decoration:line-through;opacity:.6;"


@dataclass
class Sequence:
    ids: list[int]
    trained: list[bool]
    name: str = ""  # "" for one sequence per row; "chosen" / "rejected" for preference pairs

    @property
    def length(self) -> int:
        return len(self.ids)


@dataclass
class Preview:
    sequences: list[Sequence]
    tokenizer: object
    max_length: int | None = None
    template: str | None = None  # named template in use; None: the model's own
    notes: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return max((s.length for s in self.sequences), default=0)

    def truncated(self) -> bool:
        return self.max_length is not None and self.length > self.max_length

    def dropped(self) -> bool:
        """trl drops a row whose trained tokens all lie beyond max_length (nothing left to learn)."""
        if self.max_length is None or not any(any(s.trained) for s in self.sequences):
            return False
        return not any(any(s.trained[: self.max_length]) for s in self.sequences)

    def segments(self, seq: Sequence) -> list[tuple[str, bool, bool]]:
        """(text, trained, beyond max_length) runs of one sequence."""
        out: list[tuple[str, bool, bool]] = []
        start = 0
        cut = self.max_length if self.max_length is not None else len(seq.ids)
        for i in range(1, len(seq.ids) + 1):
            if i == len(seq.ids) or seq.trained[i] != seq.trained[start] or i == cut:
                piece = self.tokenizer.decode(seq.ids[start:i], skip_special_tokens=False)
                out.append((piece, seq.trained[start], start >= cut))
                start = i
        return out

    def html(self) -> str:
        parts = []
        for seq in self.sequences:
            body = "".join(
                f'<span class="{"trained" if t else "context"}{" cut" if c else ""}" style="{_STYLE[t]}'
                f'{_CUT if c else ""}">{html.escape(s)}</span>' for s, t, c in self.segments(seq))
            title = f"<div class='seq-name'>{html.escape(seq.name)}</div>" if seq.name else ""
            parts.append(f"{title}<pre class='studio-preview' style='white-space:pre-wrap'>{body}</pre>")
        return "".join(parts)

    def marked(self, start: str = "[[", end: str = "]]") -> str:
        """Plain text with the trained parts between markers (for terminals and tests)."""
        texts = []
        for seq in self.sequences:
            body = "".join(f"{start}{s}{end}" if t else s for s, t, _ in self.segments(seq))
            texts.append(f"--- {seq.name}\n{body}" if seq.name else body)
        return "\n".join(texts)

    def trained_text(self) -> str:
        return "".join(s for seq in self.sequences for s, t, _ in self.segments(seq) if t)


# ---------------------------------------------------------------- tokenizers

@lru_cache(maxsize=4)
def _cached_tokenizer(model: str):
    from ..models.loading import load_tokenizer
    from ..models.registry import EMBEDDED, ModelRef, resolve

    if model == EMBEDDED:  # the tokenizer alone: no need to convert the whole model for a preview
        from ..models.embedded import ensure_tokenizer

        return load_tokenizer(ModelRef(model, ensure_tokenizer(lambda f, m: None), "embedded"))
    return load_tokenizer(resolve(model))


def load_tokenizer(model: str, chat_template: str | None = None):
    """The tokenizer training will use for `model`, with the named template applied (a fresh copy)."""
    import copy

    tok = copy.deepcopy(_cached_tokenizer(model))
    if chat_template:
        templates.apply(tok, chat_template)
    return tok


# ---------------------------------------------------------------- trl's own preprocessing

def _args(config_cls, **overrides) -> SimpleNamespace:
    """A trainer config's defaults without its __post_init__ (which checks devices we do not use)."""
    values = {}
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            values[f.name] = f.default_factory()  # type: ignore[misc]
    values.update(dataset_num_proc=None, max_length=None, **overrides)
    return SimpleNamespace(**values)


def _quiet():
    from contextlib import contextmanager

    from datasets.utils import logging as ds_logging

    @contextmanager
    def quiet():
        was = ds_logging.is_progress_bar_enabled()
        ds_logging.disable_progress_bar()
        try:
            yield
        finally:
            if was:
                ds_logging.enable_progress_bar()

    return quiet()


def _sft(ds, tokenizer, completion_only_loss: bool, assistant_only_loss: bool) -> list[list[Sequence]]:
    from trl import SFTConfig, SFTTrainer

    stub = SimpleNamespace(_tokenizer=tokenizer, completion_only_loss=completion_only_loss, chat_template=None)
    args = _args(SFTConfig, completion_only_loss=completion_only_loss, assistant_only_loss=assistant_only_loss,
                 packing=False)
    out = SFTTrainer._prepare_dataset(stub, ds, tokenizer, args, False, None, "preview")
    return [[Sequence(r["input_ids"], [lab != -100 for lab in r["labels"]])] for r in out]


def _dpo(ds, tokenizer) -> list[list[Sequence]]:
    from trl import DPOConfig, DPOTrainer

    out = DPOTrainer._prepare_dataset(SimpleNamespace(_tokenizer=tokenizer), ds, tokenizer, _args(DPOConfig),
                                      "preview")
    rows = []
    for r in out:
        p = r["prompt_ids"]
        rows.append([Sequence(p + r[f"{side}_ids"], [False] * len(p) + [True] * len(r[f"{side}_ids"]), side)
                     for side in ("chosen", "rejected")])
    return rows


def _kto(ds, tokenizer) -> list[list[Sequence]]:
    from trl import KTOConfig, KTOTrainer

    stub = SimpleNamespace(_tokenizer=tokenizer, calculate_KL=False)
    out = KTOTrainer._prepare_dataset(stub, ds, tokenizer, _args(KTOConfig), "preview")
    return [[Sequence(r["prompt_ids"] + r["completion_ids"],
                      [False] * len(r["prompt_ids"]) + [True] * len(r["completion_ids"]),
                      "good" if r["label"] else "bad")] for r in out]


def _prompts(rows: list[dict], tokenizer) -> list[list[Sequence]]:
    out = []
    for r in rows:
        if isinstance(r["prompt"], list):
            ids = tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True,
                                                return_dict=True)["input_ids"]
        else:
            ids = tokenizer(r["prompt"])["input_ids"]
        out.append([Sequence(list(ids), [False] * len(ids))])
    return out


def encode(rows: list[dict], target: str, tokenizer, completion_only_loss: bool = True,
           assistant_only_loss: bool = False) -> list[list[Sequence]]:
    """trl-ready rows (the output of `formats.converter`) -> token sequences with trained marks, in order."""
    from datasets import Dataset

    if not rows:
        return []
    if target == "prompt":
        return _prompts(rows, tokenizer)
    if assistant_only_loss and not templates.has_generation_marks(tokenizer):
        raise StudioError(key="data_store.no_generation_marks", templates=", ".join(templates.TEMPLATES))
    ds = Dataset.from_list(rows)
    with _quiet():
        try:
            if target in ("sft", "text"):
                return _sft(ds, tokenizer, completion_only_loss, assistant_only_loss)
            if target == "preference":
                return _dpo(ds, tokenizer)
            if target == "unpaired":
                return _kto(ds, tokenizer)
        except (ValueError, TypeError) as exc:
            if "chat_template" in str(exc) or "chat template" in str(exc):
                raise StudioError(key="data_store.no_chat_template",
                                  templates=", ".join(templates.TEMPLATES)) from None
            raise
    raise StudioError(key="data_store.no_preview", target=target)


def preview_rows(rows: list[dict], target: str, tokenizer, max_length: int | None = None,
                 template: str | None = None, lang: str = "en", **options) -> list[Preview]:
    """Each row as the model will see it; `notes` (in `lang`) say what the preview alone would not show."""
    seqs = encode(rows, target, tokenizer, **options)
    notes = [] if target != "prompt" else [i18n.text("data_store.preview_prompt_only", lang)]
    out = []
    for row, s in zip(rows, seqs):
        view = Preview(s, tokenizer, max_length, template, list(notes))
        view.notes += _lost_tool_calls(row, view, lang)
        out.append(view)
    return out


def _lost_tool_calls(row: dict, view: Preview, lang: str = "en") -> list[str]:
    """Tool calls a chat template silently leaves out (many small models' templates ignore them)."""
    names = [c.get("function", {}).get("name") for m in row.get("messages") or [] if isinstance(m, dict)
             for c in m.get("tool_calls") or []]
    text = "".join(s for seq in view.sequences for s, _, _ in view.segments(seq))
    missing = sorted({n for n in names if n and n not in text})
    if not missing:
        return []
    return [i18n.text("data_store.preview_lost_tool_calls", lang, names=", ".join(missing))]
