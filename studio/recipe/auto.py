"""The default recipe's rules: steps, epochs, learning rate, validation split and replay ratio from the
row count and the method, for every spec value left at `auto`.

Why these numbers (tuned on the identity sample: 48 rows teaching the embedded SmolLM2-135M the made-up
name "Orbiton", LoRA r16, batch 8):

- Passes over the data. Small data needs several passes to be learned at all, large data needs one:
  the identity task is learned after ~5 passes (30 steps of batch 8 over 48 rows) and not after 2.
  More passes than that only overfit (the model starts answering every question with the new fact), so
  the number of passes falls as the data grows: 5 below 100 rows, 3 up to 1,000, 2 up to 10,000, then 1.
  Replay rows ride along in the same passes, so a mixed run takes proportionally more steps.
- Steps = ceil(passes x (task rows + replay rows) / rows per step), at least 10 (fewer never moves a
  LoRA away from its zero start) and at most 3,000 (a default must not run for days on a laptop).
- Learning rate. LoRA's update is scaled by alpha / r with alpha = 2r, so a higher rank adds more
  directions at the same step size: the rate falls with the square root of the rank (5e-4 at r16,
  3.5e-4 at r32, 7e-4 at r8), clipped to [5e-5, 1e-3]. A whole model (full fine-tuning) moves every
  weight and forgets fastest: 2e-5. Preference and RL stages start from a tuned model and move less:
  a fifth of the SFT rate.
- Validation split. With 16 rows or more, an eighth of the rows (at least 2, at most 64) is held out:
  the "learned" half of the probe report asks them after training (6 of the 48 identity rows).
- Replay ratio (replay rows per task row). Small data is the easiest to over-learn, so it gets the most
  general rows beside it: 1.0 below 100 rows, 0.5 up to 1,000, 0.2 up to 10,000, then 0.1, and never
  more rows than the bundled prompt set offers outside its probe slice.

Pure functions of numbers and spec fields: no torch, no files, so the UI, the estimate and the worker
resolve a spec the same way.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

AUTO = "auto"
MIN_STEPS, MAX_STEPS = 10, 3000
SPLIT_MIN_ROWS = 16


def is_auto(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == AUTO


def passes_for(rows: int) -> int:
    """Passes over the data: more for tiny data (else it is not learned), one for large data."""
    if rows < 100:
        return 5
    if rows <= 1000:
        return 3
    if rows <= 10000:
        return 2
    return 1


def val_rows_for(rows: int) -> int:
    """Rows held out for the 'learned' probe: an eighth, when the data allows."""
    if rows < SPLIT_MIN_ROWS:
        return 0
    return int(min(64, max(2, round(rows / 8))))


def replay_ratio_for(rows: int) -> float:
    if rows < 100:
        return 1.0
    if rows <= 1000:
        return 0.5
    if rows <= 10000:
        return 0.2
    return 0.1


def replay_rows_for(train_rows: int, ratio: float, available: int) -> int:
    return int(max(0, min(available, round(train_rows * ratio))))


def steps_for(rows: int, passes: float, rows_per_step: int) -> int:
    return int(min(MAX_STEPS, max(MIN_STEPS, math.ceil(passes * rows / max(1, rows_per_step)))))


def learning_rate_for(full: bool, rank: int | None, stage: str) -> float:
    """LoRA-family: 5e-4 at r16, scaled by sqrt(16 / r); full fine-tuning: 2e-5; non-SFT stages: / 5."""
    if full:
        lr = 2e-5
    else:
        lr = 5e-4 * math.sqrt(16 / rank) if rank else 5e-4
        lr = min(1e-3, max(5e-5, lr))
    if stage != "sft":
        lr /= 5
    return float(f"{lr:.3g}")


@dataclass
class Resolved:
    """What `auto` became for one run (written to recipe.json in the run folder)."""

    rows: int
    val_rows: int
    train_rows: int
    replay_rows: int
    replay_ratio: float
    passes: float
    max_steps: int
    num_epochs: float
    learning_rate: float
    auto: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def resolve(spec, rows: int, replay_available: int = 0, saved_val_rows: int | None = None) -> tuple[object, Resolved]:
    """(a copy of `spec` with every `auto` replaced by a number, what was decided).

    `rows`: rows in the data (after max_rows); `replay_available`: general prompts that may be mixed in;
    `saved_val_rows`: the size of a saved dataset's own validation split (used instead of a new one).
    An explicit value in the spec always wins.
    """
    from .. import methods

    data, t = spec.data, spec.training
    decided: list[str] = []
    if is_auto(data.val_size):
        decided.append("data.val_size")
    val_size, val, train_rows = _split(data.val_size, rows, saved_val_rows)
    keep = bool(getattr(data, "keep_general", False)) and spec.stage == "sft"
    ratio_value = getattr(data, "replay_ratio", AUTO)
    if is_auto(ratio_value):
        decided.append("data.replay_ratio")
        ratio = replay_ratio_for(train_rows)
    else:
        ratio = float(ratio_value)
    replay = replay_rows_for(train_rows, ratio, replay_available) if keep else 0

    rows_per_step = t.batch_size * t.grad_accum * max(1, spec.resources.num_gpus)
    passes = float(t.num_epochs) if not is_auto(t.num_epochs) else float(passes_for(train_rows))
    if is_auto(t.num_epochs):
        decided.append("training.num_epochs")
    if is_auto(t.max_steps):
        decided.append("training.max_steps")
        max_steps = steps_for(train_rows + replay, passes, rows_per_step)
    else:
        max_steps = int(t.max_steps)
    if is_auto(t.learning_rate):
        decided.append("training.learning_rate")
        method = methods.REGISTRY.get(spec.method)
        rank = spec.method_args.get("r") if isinstance(spec.method_args.get("r"), int) else None
        lr = learning_rate_for(method.artifact != "adapter", rank, spec.stage)
    else:
        lr = float(t.learning_rate)
    new_data = data.model_copy(update={"val_size": val_size, "replay_ratio": ratio})
    new_training = t.model_copy(update={"max_steps": max_steps, "num_epochs": passes, "learning_rate": lr})
    concrete = spec.model_copy(update={"data": new_data, "training": new_training})
    return concrete, Resolved(rows=rows, val_rows=val, train_rows=train_rows, replay_rows=replay,
                              replay_ratio=ratio, passes=passes, max_steps=max_steps, num_epochs=passes,
                              learning_rate=lr, auto=decided)


def _split(val_size, rows: int, saved_val_rows: int | None) -> tuple[float, int, int]:
    """(val_size for prepare, held-out rows, training rows), as studio.data.prepare will split."""
    if saved_val_rows is not None and (is_auto(val_size) or float(val_size) <= 0):
        return 0.0, saved_val_rows, rows  # a saved dataset's own split: a separate file
    if is_auto(val_size):
        n = val_rows_for(rows)
        return (round(n / rows, 6) if n else 0.0), n, rows - n
    size = float(val_size)
    n = min(rows - 1, max(1, round(rows * size))) if size > 0 and rows >= 2 else 0
    return size, n, rows - n


def has_auto(spec) -> bool:
    d, t = spec.data, spec.training
    return any(is_auto(v) for v in (d.val_size, getattr(d, "replay_ratio", None), t.max_steps, t.num_epochs,
                                    t.learning_rate))
