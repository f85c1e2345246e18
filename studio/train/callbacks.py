"""Trainer callbacks that connect a run to the job: progress + ETA, metrics, checkpoint marks, cancel."""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback

from .checkpoints import mark_complete


class JobCallback(TrainerCallback):
    def __init__(self, ctx, checkpoint_dir: Path):
        self.ctx = ctx
        self.checkpoint_dir = Path(checkpoint_dir)
        self._t0 = None
        self._step0 = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0 = time.time()
        self._step0 = state.global_step
        self.ctx.cooperative = True
        self.ctx.events.progress(state.global_step / max(1, state.max_steps),
                                 f"training: step {state.global_step}/{state.max_steps}",
                                 step=state.global_step, total=state.max_steps, phase="train", force=True)

    def on_step_end(self, args, state, control, **kwargs):
        done = state.global_step - self._step0
        elapsed = time.time() - (self._t0 or time.time())
        remaining = state.max_steps - state.global_step
        eta = elapsed / done * remaining if done else None
        self.ctx.events.progress(state.global_step / max(1, state.max_steps),
                                 f"training: step {state.global_step}/{state.max_steps}",
                                 step=state.global_step, total=state.max_steps, eta_s=eta, elapsed_s=elapsed,
                                 phase="train")
        if self.ctx.cancel_requested:
            control.should_training_stop = True
            control.should_save = False
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            row = {"step": state.global_step, "epoch": state.epoch}
            row.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            self.ctx.events.metric(row)

    def on_save(self, args, state, control, **kwargs):
        path = self.checkpoint_dir / f"checkpoint-{state.global_step}"
        if path.is_dir():
            mark_complete(path)

    def on_train_end(self, args, state, control, **kwargs):
        self.ctx.cooperative = False
