"""Memory per GPU under a multi-process strategy: what each rank holds of the weights, gradients and
optimizer states, and what offload moves to CPU memory. Plain arithmetic over the estimate's parts.

| strategy | weights | gradients | optimizer states |
|---|---|---|---|
| ddp | whole | whole + DDP's bucket copy | whole |
| zero1 | whole | whole | 1/N |
| zero2 | whole | 1/N | 1/N |
| zero3, fsdp | 1/N + the layers being gathered | 1/N | 1/N |

`offload: optimizer` moves the optimizer states to CPU memory; `offload: all` also the weights (ZeRO-3,
FSDP), keeping on the GPU only the layers being computed; under FSDP the gradients go with the weights.
"""

from __future__ import annotations

GATHERED_LAYERS = 2  # ZeRO-3 / FSDP hold about two layers whole at a time (the one computing, one prefetched)


def world_of(resources) -> int:
    """Training processes in all: per machine (processes, else one per picked GPU, else num_gpus) × nodes."""
    picked = [d for d in str(resources.devices or "").replace(" ", "").split(",") if d]
    return (resources.processes or len(picked) or resources.num_gpus) * resources.nodes


def per_device(weights: int, gradients: int, optimizer: int, strategy: str, offload: str, world: int,
               layer_weights: int) -> tuple[dict[str, int], dict[str, int]]:
    """(bytes on each GPU, bytes each rank keeps in CPU memory instead) for weights/gradients/optimizer."""
    n = max(1, int(world))
    gathered = GATHERED_LAYERS * layer_weights
    if strategy in ("zero3", "fsdp") and n > 1:
        weights = min(weights, weights // n + gathered)
    if strategy in ("zero2", "zero3", "fsdp") and n > 1:
        gradients //= n
    if strategy in ("zero1", "zero2", "zero3", "fsdp") and n > 1:
        optimizer //= n
    if strategy == "ddp" and n > 1:
        gradients *= 2  # DDP keeps its gradient buckets beside the gradients
    cpu: dict[str, int] = {}
    if offload in ("optimizer", "all") and strategy != "ddp":
        cpu["optimizer"], optimizer = optimizer, 0
    if offload == "all" and strategy in ("zero3", "fsdp"):
        kept = min(weights, gathered)
        cpu["weights"], weights = weights - kept, kept
        if strategy == "fsdp":
            cpu["gradients"], gradients = gradients, 0
    return {"weights": weights, "gradients": gradients, "optimizer": optimizer}, cpu
