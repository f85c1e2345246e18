"""A lean causal-LM loss for SFT on a CPU: project only the positions that have a label, in bf16.

Why: trl's SFTTrainer (1.x) always scores tokens through its fused, chunked LM head. On a GPU that
head scores only the labelled positions with a Triton kernel; elsewhere it scores EVERY position
(prompt tokens included), in fp32 outside autocast, and runs the LM head again in its backward. On a
135M model with a 49k vocabulary the LM head is a fifth of the model's work, so on a CPU that path cost
more than the whole rest of the step's savings (profiled: about a third of the backward time). Here the
model's own forward projects only the positions whose next token is learned (`logits_to_keep` with
their indices, a transformers feature), under the same autocast as the rest of the step, and the
cross-entropy is taken in fp32 on those rows only. Same loss (same tokens, same normalisation as trl:
`num_items_in_batch` when the trainer passes it, else the number of labelled tokens), same logged
metrics (mean token accuracy, entropy, tokens seen).

Used where it is exact: causal LMs with plain labels; prompt-learning adapters (virtual tokens shift
the positions), MoE auxiliary losses, label smoothing, other loss types and callers that want the
outputs go through trl's own path.
"""

from __future__ import annotations


def applies(trainer, model, inputs: dict, return_outputs: bool) -> bool:
    """The lean path is exact for this call (see the module docstring)."""
    if return_outputs or trainer.aux_loss_enabled or trainer.compute_loss_func is not None:
        return False
    if trainer.label_smoother is not None or trainer.args.loss_type != "nll" or "labels" not in inputs:
        return False
    if "shift_labels" in inputs:
        return False
    peft_config = getattr(model, "peft_config", None)
    if peft_config:
        active = getattr(model, "active_adapter", None)
        config = peft_config.get(active) if isinstance(active, str) else None
        if config is None or getattr(config, "is_prompt_learning", False):
            return False
    return True


def kept_positions(labels):
    """Indices t (0..T-2) whose next token t+1 is learned in any row of the batch."""
    shifted = labels[:, 1:]
    return (shifted != -100).any(dim=0).nonzero().squeeze(-1), shifted


def loss_and_metrics(model, inputs: dict, num_items_in_batch=None):
    """(loss, {"mean_token_accuracy", "entropy", "n"}) from the labelled positions only."""
    import torch

    labels = inputs["labels"]
    positions, shifted = kept_positions(labels)
    forward_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    if positions.numel() == 0:  # nothing to learn in this batch: a differentiable zero, like trl's
        out = model(**forward_inputs, logits_to_keep=1)
        return out.logits.sum() * 0.0, {"mean_token_accuracy": 0.0, "entropy": 0.0, "n": 0}
    logits = model(**forward_inputs, logits_to_keep=positions).logits  # (B, K, V), autocast dtype
    targets = shifted[:, positions].to(logits.device)
    mask = targets != -100
    log_probs = torch.log_softmax(logits[mask].float(), dim=-1)
    picked = log_probs.gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
    n = int(mask.sum())
    denominator = num_items_in_batch if num_items_in_batch is not None else max(1, n)
    loss = -picked.sum() / denominator
    with torch.no_grad():
        accuracy = (log_probs.argmax(-1) == targets[mask]).float().mean().item()
        entropy = -(log_probs.exp() * log_probs).sum(-1).mean().item()
    return loss, {"mean_token_accuracy": accuracy, "entropy": entropy, "n": n}


def trainer_class():
    """trl's SFTTrainer with the lean loss wherever `applies` holds (built lazily: trl is heavy)."""
    from trl import SFTTrainer

    class LeanSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not applies(self, model, inputs, return_outputs):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            mode = "train" if self.model.training else "eval"
            inputs["use_cache"] = False
            loss, seen = loss_and_metrics(model, inputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            self._metrics[mode]["entropy"].append(seen["entropy"])
            self._metrics[mode]["mean_token_accuracy"].append(seen["mean_token_accuracy"])
            if mode == "train":
                self._total_train_tokens += _tokens_in(inputs) // self._tp_size
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

    return LeanSFTTrainer


def _tokens_in(inputs: dict) -> int:
    """Tokens in the batch, counted as trl counts them (padding excluded; padding-free rows are all real)."""
    if "attention_mask" in inputs:
        return int(inputs["attention_mask"].sum())
    return int(inputs["position_ids"].size(1))
