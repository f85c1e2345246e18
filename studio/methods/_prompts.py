"""Shared rules of the prompt-learning methods (prompt tuning, P-Tuning, prefix tuning, P-Tuning v2).

They all add trained virtual tokens in front of every example, so they share the same refusals:
packing glues rows together (only the first would get the virtual tokens), and prefix methods need
a decoder whose every layer keeps a key/value cache - which gradient checkpointing switches off
(measured: the attention mask and the keys then differ by the prefix length and the step fails).
"""

from __future__ import annotations

from typing import Any

from ..errors import StudioError
from ._tuned import cannot_merge

ATTENTION_LAYERS = {"full_attention", "sliding_attention", "chunked_attention", "attention", "global", "local"}

merge = cannot_merge("virtual tokens are extra inputs, not a change of the weights")


def common_rules(spec: Any, title: str) -> None:
    if spec.training.packing:
        raise StudioError(key="methods.prompts_no_packing", title=title)


def prefix_rules(spec: Any, title: str) -> None:
    """Prefix methods write keys/values into every layer's cache; refuse models that cannot take that."""
    from .params import local_config

    common_rules(spec, title)
    if spec.training.gradient_checkpointing:
        raise StudioError(key="methods.prompts_no_checkpointing", title=title)
    config = local_config(spec.model.name)
    if config is None:
        return
    config = config.get("text_config", config)
    if config.get("is_encoder_decoder"):
        raise StudioError(key="methods.here_supports_decoder_only", title=title, name=spec.model.name)
    odd = sorted({t for t in config.get("layer_types") or [] if t not in ATTENTION_LAYERS})
    if odd:
        raise StudioError(key="methods.needs_key_value_cache", title=title, name=spec.model.name, odd=', '.join(odd))


def peft_prompt_model(model: Any, peft_config: Any, title: str) -> Any:
    """Wrap with peft, the task type set here once from the model (callers build the config without it)."""
    from peft import get_peft_model

    from ..models.loading import peft_task_type

    peft_config.task_type = peft_task_type(model)  # SEQ_CLS for a reward model: peft then trains its head
    try:
        return get_peft_model(model, peft_config)
    except (ValueError, AttributeError, TypeError, OSError) as exc:
        raise StudioError(key="methods.cannot_be_applied", title=title, model_class=type(model).__name__, exc=exc) from None
