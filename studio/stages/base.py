"""What every stage declares: a typed config, the data it needs and how it builds its trl trainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import Strict


class StageConfig(Strict):
    """Base class for a stage's options."""


@dataclass
class TrainContext:
    """Everything a stage needs to build its trainer; built by `studio.train.runner`."""

    spec: Any  # RunSpec
    model: Any
    tokenizer: Any
    train_dataset: Any
    eval_dataset: Any
    training_args: dict  # common TrainingArguments kwargs derived from spec.training
    callbacks: list
    run_dir: Path
    device: str
    model_ref: Any = None
    extras: dict = field(default_factory=dict)


def _no_check(_spec: Any) -> None:
    return None


@dataclass(frozen=True)
class Stage:
    name: str
    config: type[StageConfig]
    title: dict[str, str]
    summary: dict[str, str]
    when_to_use: dict[str, str]
    # the data shape this stage trains on (see studio.data.targets)
    data_target: str
    build_trainer: Callable[[TrainContext], Any]
    check: Callable[[Any], None] = _no_check
    # metric names that show the objective improving, lowest-is-better first
    objective: str = "loss"
    order: int = 100

    def text(self, which: str, lang: str = "en") -> str:
        texts = getattr(self, which)
        return texts.get(lang) or texts["en"]
