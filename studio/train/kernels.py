"""Fused kernels on CUDA: Liger (fused RMSNorm, SwiGLU, RoPE, linear + cross-entropy) and FlashAttention-2.

Each has a switch in `resources` (liger, flash_attention). Switched on where it cannot work (no CUDA GPU,
package not installed), the run goes on with the plain kernels and the log says why.
"""

from __future__ import annotations

import importlib.util
from typing import Callable

from .. import i18n


def _off(kernel: str, reason_key: str, **args) -> str:
    reason = i18n.text(f"resources.{reason_key}.msg", "en", **args)
    return i18n.text("resources.kernel_off.msg", "en", kernel=kernel, reason=reason)


def unavailable(kernel: str, package: str, module: str, device: str) -> str | None:
    """Why `kernel` cannot run here (None: it can)."""
    if device != "cuda":
        return _off(kernel, "not_cuda", device=device)
    if importlib.util.find_spec(module) is None:
        return _off(kernel, "not_installed", package=package)
    return None


def attention_kwargs(spec, device: str, log: Callable[[str], None]) -> dict:
    """from_pretrained arguments for FlashAttention-2 when it is switched on and usable."""
    if not spec.resources.flash_attention:
        return {}
    why = unavailable("flash-attention", "flash-attn", "flash_attn", device)
    if why:
        log(why)
        return {}
    log("flash-attention: on (attn_implementation=flash_attention_2)")
    return {"attn_implementation": "flash_attention_2"}


def apply_liger(model, spec, device: str, log: Callable[[str], None]):
    """Patch the loaded model with Liger's fused kernels when switched on and usable."""
    if not spec.resources.liger:
        return model
    why = unavailable("liger", "liger-kernel", "liger_kernel", device)
    if why:
        log(why)
        return model
    from liger_kernel.transformers import _apply_liger_kernel_to_instance

    try:
        _apply_liger_kernel_to_instance(model=model)
    except Exception as exc:  # noqa: BLE001 - an unsupported architecture trains with the plain kernels
        log(f"liger: off ({type(exc).__name__}: {exc})")
        return model
    log(f"liger: on ({type(model).__name__})")
    return model
