"""Common TrainingArguments derived from the spec (every stage's trl config takes these)."""

from __future__ import annotations

from pathlib import Path

from ..methods.base import check_optimizer
from .precision import cpu_has_bf16  # noqa: F401 - the name other modules import from here


def use_bf16(precision: str, device: str) -> bool:
    """`precision: auto` means bf16 mixed precision wherever the hardware computes it natively."""
    import torch

    if precision == "bf16":  # asked for; on a CPU without native bf16 it would be emulated, slower than fp32
        return device != "cpu" or cpu_has_bf16()
    if precision != "auto":
        return False
    return torch.cuda.is_bf16_supported() if device == "cuda" else cpu_has_bf16()


# attention implementations that keep the rows of a padding-free batch apart: the varlen kernels read the
# sequence boundaries the collator passes; SDPA runs row by row (train.packed_attention); for the others
# transformers builds a block-diagonal causal mask from the position ids that restart at 0 for every row
# (masking_utils.find_packed_sequence_indices)
VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "sdpa")
MASKED_ATTENTION = ("eager", "flex_attention")
# a masked (not varlen) padding-free batch attends over all its tokens at once: worth it while that stays short
MASKED_PADDING_FREE_TOKENS = 4096


def padding_free(spec, stage_name: str, attention: str | None, longest: int) -> bool:
    """Whether SFT runs padding-free: the batch's rows laid end to end as one sequence, no pad tokens.

    Rows of 30-60 tokens padded to the longest in the batch waste a quarter to a half of every matmul;
    padding-free gives the same loss on the same rows (tests/test_speed.py). trl then stops cutting rows
    at max_length, so it is used only when every row fits (`longest` tokens); packing already implies it.
    """
    t = spec.training
    if stage_name != "sft" or t.packing or t.batch_size < 2 or not 0 < longest <= t.max_length:
        return False
    if attention in VARLEN_ATTENTION:
        return True
    return attention in MASKED_ATTENTION and t.batch_size * longest <= MASKED_PADDING_FREE_TOKENS


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
        report_to=_report_to(output_dir),
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def _report_to(output_dir: Path) -> list[str]:
    """TensorBoard event files in the run folder, plus the trackers the user set up (studio.tracking)."""
    from ..tracking.settings import report_to

    return report_to(Path(output_dir).parent)
