"""Checking a merged model against what it should equal, on fixed probe prompts.

The verdict compares next-token logits at every position of the probes. A merge in float32 of an
adapter trained on a float32 base matches to ~1e-5; saving in bf16/fp16 or an adapter trained on a
quantised base (QLoRA) differs more: the report shows by how much (and whether the most likely
token still agrees) rather than hiding it.
"""

from __future__ import annotations

PROBES = ["What is the capital of France?", "Write one sentence about the sea.", "你好，请介绍一下你自己。",
          "List three prime numbers."]
# largest logit difference still called "the same model" for each saved precision
TOLERANCE = {"float32": 1e-3, "float16": 5e-2, "bfloat16": 2.5e-1}


def probe_inputs(tokenizer):
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    texts = []
    for p in PROBES:
        conv = [{"role": "user", "content": p}]
        if getattr(tokenizer, "chat_template", None):
            texts.append(tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True))
        else:
            texts.append(p)
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    tokenizer.padding_side = side
    return enc


def logits(model, tokenizer):
    import torch

    enc = probe_inputs(tokenizer)
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(**{k: v.to(device) for k, v in enc.items()}).logits.float().cpu()
    return out, enc["attention_mask"].bool()


def compare(reference, candidate) -> dict:
    """Differences over the real (non-padding) positions of two `logits()` results."""
    (a, mask), (b, _) = reference, candidate  # same probes, same padding
    diff = (a - b).abs()[mask]
    agree = (a.argmax(-1) == b.argmax(-1))[mask]
    return {"max_abs_logit_diff": float(diff.max()), "mean_abs_logit_diff": float(diff.mean()),
            "top1_agreement": round(float(agree.float().mean()), 4), "positions": int(mask.sum())}


def verdict(diffs: dict, dtype: str, quantized_reference: bool) -> dict:
    tol = TOLERANCE.get(dtype, 1e-3)
    out = dict(diffs, tolerance=tol, within_tolerance=diffs["max_abs_logit_diff"] <= tol)
    if quantized_reference:
        out["note"] = ("the adapter was trained on a quantised base; the merged model has full-precision base "
                       "weights, so it differs from the adapter model by the quantisation error shown here")
    elif not out["within_tolerance"]:
        out["note"] = "larger than expected for this precision: compare answers before using the merged model"
    return out
