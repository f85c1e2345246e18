"""Common TrainingArguments derived from the spec (every stage's trl config takes these)."""

from __future__ import annotations

from pathlib import Path

from ..methods.base import check_optimizer
from .precision import cpu_has_bf16  # noqa: F401 - the name other modules import from here


def use_bf16(precision: str, device: str) -> bool:
    """`precision: auto` means bf16 mixed precision wherever the hardware computes it natively."""
    import torch

    if precision == "bf16":
        return True
    if precision != "auto":
        return False
    return torch.cuda.is_bf16_supported() if device == "cuda" else cpu_has_bf16()


def _targets(text: str):
    """'all-linear' stays a keyword; a comma list becomes module names (for GaLore-style optimizers)."""
    text = (text or "all-linear").strip()
    return text if text == "all-linear" else [t.strip() for t in text.split(",") if t.strip()]


def training_args(spec, output_dir: Path, device: str, has_eval: bool) -> dict:
    t = spec.training
    check_optimizer(t.optimizer, device)
    evaluate = has_eval and t.eval_steps is not None
    return dict(
        output_dir=str(output_dir),
        max_steps=t.max_steps,
        num_train_epochs=t.num_epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optimizer,
        optim_target_modules=_targets(t.optim_target_modules),
        optim_args=t.optim_args.replace(" ", "") or None,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        save_only_model=False,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=t.eval_steps if evaluate else None,
        seed=t.seed,
        data_seed=t.seed,
        bf16=use_bf16(t.precision, device),
        fp16=t.precision == "fp16",
        gradient_checkpointing=t.gradient_checkpointing,
        use_cpu=device == "cpu",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
