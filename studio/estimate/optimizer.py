"""Bytes of optimizer state for the trainable tensors under a transformers optimizer name."""

from __future__ import annotations

import math

def optimizer_bytes(optim: str, optim_args: str, tensors: list[tuple[str, tuple[int, ...], int]],
                    target_modules: str = "all-linear") -> int:
    """Bytes of optimizer state for the trainable tensors under a transformers optimizer name."""
    args = dict(p.split("=", 1) for p in (x.strip() for x in (optim_args or "").split(",")) if "=" in p)
    eight_bit = "8bit" in optim
    if optim.startswith(("galore_", "apollo_")):
        return _projected_bytes(optim, args, tensors, target_modules, eight_bit)
    if "sgd" in optim:
        states = 1 if float(args.get("momentum", 0) or 0) > 0 else 0
    elif "adafactor" in optim:
        return sum(4 * (sum(shape[-2:]) if len(shape) >= 2 else shape[0]) for _n, shape, _b in tensors)
    elif any(k in optim for k in ("lion", "rmsprop", "adagrad")):
        states = 1
    else:
        states = 2  # Adam / AdamW and their fused, paged and bitsandbytes variants
    total = 0
    for _name, shape, elem in tensors:
        n = math.prod(shape)
        # bitsandbytes keeps small tensors (< 4096 entries) in 32-bit
        per = 1 + 8 / 2048 if eight_bit and n >= 4096 else (4 if eight_bit or "32bit" in optim else elem)
        total += int(states * n * per)
    return total


def _projected_bytes(optim, args, tensors, target_modules, eight_bit) -> int:
    rank = int(args.get("rank", 128))
    targets = None if target_modules.strip() == "all-linear" else [t.strip() for t in target_modules.split(",")]
    per = 1 if eight_bit else 4
    total = 0
    for name, shape, elem in tensors:
        n = math.prod(shape)
        projected = len(shape) == 2 and (targets is None or any(t in name for t in targets)) \
            and min(shape) > rank
        if projected:
            big = max(shape)
            total += 2 * big * rank * per + min(shape) * rank * 4  # Adam on the projection + the projector
        else:
            total += 2 * n * elem
    return total

