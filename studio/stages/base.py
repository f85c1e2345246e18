"""What every stage declares: a typed config, the data it needs and how it builds its trl trainer.

The runner only talks to a stage through these fields, so adding a stage never needs an
`if stage == ...` anywhere else:

- `data_target` -> the row shape `studio.data.prepare` converts the user's data to
- `model_kind` -> which head the base model is loaded with (a language-model head, or a one-score
  sequence-classification head for reward models); the runner and `studio.models.loading` honour it
- `build_trainer(ctx)` -> a transformers `Trainer` (usually trl's) ready to `train()`
- `check(spec)` -> refuses invalid combinations before a run starts (StudioError: why + what instead)
- `objective` / `higher_is_better` -> the logged metric that shows the stage working
"""

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
    # the job (progress, log lines, cancel flag) and the workspace, for stages with a setup phase
    # (sampling answers, judging pairs, loading a reward model or a teacher)
    job: Any = None
    workspace_root: Path | None = None

    def log(self, message: str) -> None:
        if self.job is not None:
            self.job.events.log(message)

    def progress(self, message: str) -> None:
        """A setup-phase progress line; also the point where a cancel request stops the setup."""
        if self.job is not None:
            self.job.progress(None, message, phase="setup")


def _no_check(_spec: Any) -> None:
    return None


@dataclass(frozen=True)
class StageMemory:
    """What a stage holds besides the trained model, read by the memory and time estimate."""

    # sequences through the model per example (chosen + rejected = 2, GRPO's generations per prompt)
    sequences_per_row: float = 1.0
    # a frozen copy of the starting model (free for adapter methods: the adapter is switched off)
    reference: bool = False
    # other models held frozen in memory: a teacher, a reward or judge model ("" = one like the base)
    frozen_models: tuple[str, ...] = ()
    # other models trained beside the policy (a PPO value model; "" = one like the base)
    trained_models: tuple[str, ...] = ()
    # the loss holds (tokens x vocab) logits instead of trl's chunked log-probabilities
    full_logits: bool = False
    # tokens generated per sequence before each update (online RL), for the time estimate
    generated_tokens: int = 0


def _plain_memory(_spec: Any) -> StageMemory:
    return StageMemory()


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
    # the logged metric that shows the stage working, and which way is better
    objective: str = "loss"
    order: int = 100
    higher_is_better: bool = False
    # "causal_lm" (a language-model head) or "sequence_classification" (one score per sequence)
    model_kind: str = "causal_lm"
    # trl's name for what it runs (shown in the UI and the README table)
    trainer_name: str = ""
    # what the stage adds to a run's memory and compute, for `studio.estimate` (the default fits SFT)
    memory: Callable[[Any], "StageMemory"] = _plain_memory

    def text(self, which: str, lang: str = "en") -> str:
        texts = getattr(self, which)
        return texts.get(lang) or texts["en"]
