"""Loss and perplexity of the reference answers under a model (a transformers forward pass).

Each example is rendered with the chat template the way training renders it: the prompt turns
with the generation prompt, then the reference answer up to the template's end of turn. Only the
answer's tokens count, so the number says how likely the model finds the reference answers.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

from ..infer.base import render


def _answer_ids(tokenizer, prompt: list[dict], reference: str, template: str | None) -> tuple[list[int], list[int]]:
    """Token ids of the rendered prompt, and of the reference answer as the template closes it."""
    from ..models.templates import named_template

    prefix = render(tokenizer, prompt, template)
    full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": reference}], tokenize=False,
                                         add_generation_prompt=False,
                                         chat_template=named_template(template) if template else None)
    answer = full[len(prefix):] if full.startswith(prefix) else reference

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    return ids(prefix), ids(answer)


def reference_losses(model, tokenizer, examples: list[tuple[list[dict], str]], template: str | None = None,
                     batch_size: int = 8, context=None) -> list[float]:
    """Mean negative log-likelihood per answer token, one number per (prompt, reference) example."""
    import torch

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[float] = []
    for start in range(0, len(examples), batch_size):
        batch = [_answer_ids(tokenizer, p, r, template) for p, r in examples[start:start + batch_size]]
        width = max(len(a) + len(b) for a, b in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (prompt_ids, answer_ids) in enumerate(batch):
            row = prompt_ids + answer_ids
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
            labels[i, len(prompt_ids): len(row)] = torch.tensor(answer_ids)
        with torch.inference_mode(), (context() if context else nullcontext()):
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logits = logits[:, logits.shape[1] - width:]  # prompt tuning / p-tuning prepend virtual tokens
        shift_logits, shift_labels = logits[:, :-1].cpu(), labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=-100,
                                                reduction="none")
        counts = (shift_labels != -100).sum(1).clamp(min=1)
        out += (nll.sum(1) / counts).tolist()
    return out


def summarize(losses: list[float]) -> dict:
    if not losses:
        return {}
    mean = sum(losses) / len(losses)
    return {"loss": round(mean, 4), "perplexity": round(math.exp(min(mean, 50)), 3)}
