"""A compact PPO trainer (policy + value head, GAE, clipped objective, KL penalty to the reference).

trl 1.16 no longer ships a PPO trainer (its online trainers are GRPO and RLOO, which have no value
function), so classic RLHF is written here as a `transformers.Trainer` subclass. Being a Trainer
keeps everything the runner relies on: callbacks, logging, checkpoints and resume, the method's
hooks, `trainer.model` as the thing to save.

One optimizer step works on one micro-batch of prompts per gradient-accumulation slot:

1. rollout (every `ppo_epochs` steps): sample answers, record the policy's log-probs and values,
   the reference log-probs and the reward scores; per-token rewards are the KL penalty plus the
   score on the last answer token; GAE turns them into advantages and returns.
2. update (every step): the clipped policy loss and the clipped value loss on that rollout. The
   sampler repeats each batch of prompts `ppo_epochs` times, so every rollout is reused for that
   many optimizer steps (trl's `RepeatSampler`, as GRPO uses for `num_iterations`).

The value head is a linear layer on the policy's last hidden state. It is not part of the model
(the artifact stays a plain adapter): it has its own optimizer param group and its own file in each
checkpoint.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from transformers import Trainer

VALUE_HEAD_FILE = "value_head.safetensors"


@dataclass
class PPOSettings:
    ppo_epochs: int = 4
    clip_range: float = 0.2
    value_clip_range: float = 0.2
    vf_coef: float = 0.1
    kl_coef: float = 0.05
    gamma: float = 1.0
    lam: float = 0.95
    max_new_tokens: int = 64
    temperature: float = 0.7
    top_k: int = 0


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)


def whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + 1e-8) * mask


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalised advantage estimation over the answer tokens; returns (advantages, returns)."""
    values = values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], device=rewards.device)
    steps = rewards.shape[1]
    for t in reversed(range(steps)):
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last * mask[:, t]
        advantages[:, t] = last
    return advantages * mask, (advantages + values) * mask


def completion_mask(completion_ids: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """1 for answer tokens up to and including the first end-of-sequence token, 0 after it."""
    is_eos = torch.isin(completion_ids, torch.tensor(eos_ids, device=completion_ids.device))
    after = (is_eos.cumsum(dim=1) - is_eos.long()) > 0
    return (~after).float()


class PPOTrainer(Trainer):
    def __init__(self, *, model, ref_model, reward_fn: Callable[[list, list, list], list[float]],
                 settings: PPOSettings, args, train_dataset, processing_class, callbacks=None):
        self.settings = settings
        self.reward_fn = reward_fn
        self.ref_model = ref_model
        self._buffer: dict[int, dict] = {}
        self._calls = 0
        self._stats: dict[str, list[float]] = defaultdict(list)
        super().__init__(model=model, args=args, train_dataset=train_dataset, processing_class=processing_class,
                         data_collator=lambda rows: rows, callbacks=callbacks)
        hidden = model.config.get_text_config().hidden_size
        self.value_head = torch.nn.Linear(hidden, 1).to(self.args.device)
        torch.nn.init.zeros_(self.value_head.weight)  # start by predicting 0: no bias before any return is seen
        torch.nn.init.zeros_(self.value_head.bias)
        if ref_model is not None:
            self.ref_model = ref_model.to(self.args.device)
        self.eos_ids = self._eos_ids()

    # ------------------------------------------------------------------ Trainer plumbing

    def _eos_ids(self) -> list[int]:
        eos = getattr(self.model.generation_config, "eos_token_id", None) or self.processing_class.eos_token_id
        return list(eos) if isinstance(eos, (list, tuple)) else [eos]

    def _get_train_sampler(self, train_dataset=None):
        from trl.trainer.utils import RepeatSampler

        dataset = train_dataset if train_dataset is not None else self.train_dataset
        per_step = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
        return RepeatSampler(dataset, mini_repeat_count=1, batch_size=per_step,
                             repeat_count=self.settings.ppo_epochs, shuffle=True, seed=self.args.seed)

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        head = list(self.value_head.parameters())
        if not any(p is head[0] for group in optimizer.param_groups for p in group["params"]):
            optimizer.add_param_group({"params": head, "weight_decay": 0.0})
        return optimizer

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        from safetensors.torch import save_file
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if os.path.isdir(folder):
            state = {k: v.detach().contiguous().cpu() for k, v in self.value_head.state_dict().items()}
            save_file(state, os.path.join(folder, VALUE_HEAD_FILE))

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        path = os.path.join(resume_from_checkpoint, VALUE_HEAD_FILE)
        if os.path.isfile(path):
            from safetensors.torch import load_file

            self.value_head.load_state_dict({k: v.to(self.args.device) for k, v in load_file(path).items()})

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        for key, values in self._stats.items():
            if values:
                logs[key] = sum(values) / len(values)
        self._stats.clear()
        super().log(logs, start_time)

    # ------------------------------------------------------------------ forward passes

    def _forward(self, model, ids: torch.Tensor, mask: torch.Tensor, start: int, with_values: bool):
        """Log-probs of the answer tokens (and the values of the states before them)."""
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=with_values)
        logits = out.logits[:, start - 1:-1].float() / self.settings.temperature
        logprobs = torch.gather(F.log_softmax(logits, dim=-1), 2, ids[:, start:].unsqueeze(-1)).squeeze(-1)
        if not with_values:
            return logprobs, None
        hidden = out.hidden_states[-1][:, start - 1:-1]
        values = self.value_head(hidden.to(self.value_head.weight.dtype)).squeeze(-1)
        return logprobs, values

    def _reference_logprobs(self, model, ids, mask, start):
        if self.ref_model is not None:
            return self._forward(self.ref_model, ids, mask, start, False)[0]
        unwrapped = self.accelerator.unwrap_model(model)
        with unwrapped.disable_adapter():
            return self._forward(model, ids, mask, start, False)[0]

    # ------------------------------------------------------------------ rollout

    @torch.no_grad()
    def _rollout(self, model, rows: list[dict]) -> dict:
        from ._common import chat_texts

        s = self.settings
        tok = self.processing_class
        side = tok.padding_side
        tok.padding_side = "left"
        enc = tok(chat_texts(tok, [r["prompt"] for r in rows]), return_tensors="pt", padding=True,
                  add_special_tokens=False).to(self.args.device)
        tok.padding_side = side
        model.eval()
        unwrapped = self.accelerator.unwrap_model(model)
        sequences = unwrapped.generate(**enc, do_sample=True, temperature=s.temperature, top_k=s.top_k, top_p=1.0,
                                       max_new_tokens=s.max_new_tokens, pad_token_id=tok.pad_token_id)
        start = enc["input_ids"].shape[1]
        answer_mask = completion_mask(sequences[:, start:], self.eos_ids)
        mask = torch.cat([enc["attention_mask"].float(), answer_mask], dim=1)
        old_logprobs, old_values = self._forward(model, sequences, mask, start, True)
        ref_logprobs = self._reference_logprobs(model, sequences, mask, start)
        model.train()

        kept = answer_mask.long()  # what follows the end-of-sequence token becomes padding before decoding
        texts = tok.batch_decode(sequences[:, start:] * kept + tok.pad_token_id * (1 - kept), skip_special_tokens=True)
        scores = torch.tensor(self.reward_fn([r["prompt"] for r in rows], texts, rows), dtype=torch.float32,
                              device=self.args.device)
        kl = (old_logprobs - ref_logprobs) * answer_mask
        rewards = -s.kl_coef * kl
        last = (answer_mask.sum(dim=1).long() - 1).clamp(min=0)
        rewards[torch.arange(len(rows)), last] += scores
        advantages, returns = gae(rewards, old_values, answer_mask, s.gamma, s.lam)
        self._stats["reward"].append(scores.mean().item())
        self._stats["kl"].append(kl.sum(dim=1).mean().item())
        self._stats["completion_length"].append(answer_mask.sum(dim=1).mean().item())
        return {"ids": sequences, "mask": mask, "answer_mask": answer_mask, "start": start,
                "old_logprobs": old_logprobs, "old_values": old_values * answer_mask,
                "advantages": whiten(advantages, answer_mask), "returns": returns}

    def _batch(self, model, rows: list[dict]) -> dict:
        """The rollout for this micro-batch: fresh at the start of every `ppo_epochs` cycle, reused within it."""
        slot = self._calls % self.args.gradient_accumulation_steps
        self._calls += 1
        cycle = self.state.global_step - self.state.global_step % self.settings.ppo_epochs
        cached = self._buffer.get(slot)
        if cached is None or cached["cycle"] != cycle:
            cached = {"cycle": cycle, "data": self._rollout(model, rows)}
            self._buffer[slot] = cached
        return cached["data"]

    # ------------------------------------------------------------------ update

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        s = self.settings
        b = self._batch(model, inputs)
        m = b["answer_mask"]
        logprobs, values = self._forward(model, b["ids"], b["mask"], b["start"], True)
        ratio = torch.exp(logprobs - b["old_logprobs"])
        adv = b["advantages"]
        pg_loss = masked_mean(torch.max(-adv * ratio, -adv * ratio.clamp(1 - s.clip_range, 1 + s.clip_range)), m)
        clipped = b["old_values"] + (values - b["old_values"]).clamp(-s.value_clip_range, s.value_clip_range)
        vf_loss = 0.5 * masked_mean(torch.max((values - b["returns"]) ** 2, (clipped - b["returns"]) ** 2), m)
        loss = pg_loss + s.vf_coef * vf_loss
        with torch.no_grad():
            self._stats["policy_loss"].append(pg_loss.item())
            self._stats["value_loss"].append(vf_loss.item())
            self._stats["clip_fraction"].append(masked_mean(((ratio - 1).abs() > s.clip_range).float(), m).item())
            self._stats["approx_kl"].append(masked_mean(0.5 * (logprobs - b["old_logprobs"]) ** 2, m).item())
        return (loss, None) if return_outputs else loss


def combined_reward(funcs: list, weights: list[float]) -> Callable[[list, list, list], list[float]]:
    """The weighted sum of trl-style reward functions, called the way GRPOTrainer calls them."""
    weights = weights or [1.0] * len(funcs)

    def score(prompts: list, texts: list[str], rows: list[dict]) -> list[float]:
        completions = [[{"role": "assistant", "content": t}] for t in texts]
        columns = {k: [r.get(k) for r in rows] for k in rows[0] if k != "prompt"}
        total = [0.0] * len(texts)
        for fn, w in zip(funcs, weights):
            values = fn(prompts=prompts, completions=completions, **columns)
            total = [t + w * float(v if v is not None else 0.0) for t, v in zip(total, values)]
        return total

    return score


def trainer_args(training_args: dict) -> Any:
    from transformers import TrainingArguments

    args = dict(training_args)
    args.update(remove_unused_columns=False, eval_strategy="no", eval_steps=None)
    return TrainingArguments(**args)
