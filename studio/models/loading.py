"""Loading a resolved model and its tokenizer with the user's safety settings applied.

Safetensors only unless the user opted into pickle weights; `trust_remote_code` only when the user
turned it on. Heavy imports stay inside the functions (they run in workers).
"""

from __future__ import annotations

from typing import Any

from ..errors import StudioError
from .registry import ModelRef


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise StudioError(key="models.resources_device_cuda_no")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(ref: ModelRef, trust_remote_code: bool = False, chat_template: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ref.path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.unk_token or tok.eos_token
    if chat_template:
        from .templates import named_template

        tok.chat_template = named_template(chat_template)
    return tok


# model kinds a stage can ask for (Stage.model_kind): the transformers auto class and the peft task type
MODEL_KINDS = {
    "causal_lm": ("AutoModelForCausalLM", "CAUSAL_LM"),
    "sequence_classification": ("AutoModelForSequenceClassification", "SEQ_CLS"),
}
# where transformers keeps the score head of a sequence-classification model (peft uses the same names)
HEAD_NAMES = ("score", "classifier")


def _auto_class(kind: str):
    import transformers

    if kind not in MODEL_KINDS:
        raise StudioError(key="models.unknown_model_kind", kind=kind, kinds=', '.join(MODEL_KINDS))
    return getattr(transformers, MODEL_KINDS[kind][0])


def model_kind_of(model: Any) -> str:
    """The kind of a loaded (possibly wrapped) model, read from its class: what peft's task type follows."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "sequence_classification" if type(base).__name__.endswith("ForSequenceClassification") else "causal_lm"


def peft_task_type(model: Any) -> str:
    """The peft `task_type` for this model (CAUSAL_LM, or SEQ_CLS for a reward model's score head).

    peft methods pass it to their config so the same method trains a chat model and a reward model:
    with SEQ_CLS peft also trains and saves the new score head (`modules_to_save`).
    """
    return MODEL_KINDS[model_kind_of(model)][1]


def head_parameters(model: Any) -> list[tuple[str, Any]]:
    return [(n, p) for n, p in model.named_parameters()
            if any(f".{h}." in f".{n}" for h in HEAD_NAMES)]


def ensure_head_trainable(model: Any, method_name: str) -> Any:
    """A freshly added score head starts random: it must train (and be saved) whatever the method.

    peft methods handle it through `modules_to_save` when built with `peft_task_type(model)`; the
    hand-written methods save every parameter that requires grad, so switching it on is enough.
    """
    if model_kind_of(model) != "sequence_classification":
        return model
    head = head_parameters(model)
    if any(p.requires_grad for _, p in head):
        return model
    if hasattr(model, "peft_config"):
        raise StudioError(key="models.method_cannot_train_score", method_name=method_name)
    for _, p in head:
        p.requires_grad_(True)
    return model


def upcast_trainable(model: Any) -> int:
    """Trainable parameters in fp32 over a 16-bit frozen base (mixed precision): the optimizer's updates to
    an adapter are far below what bf16 can represent. peft does this for its own adapters; a reward model's
    new score head or a hand-written method's tensors get it here. Returns how many tensors it cast."""
    import torch

    cast = 0
    for p in model.parameters():
        if p.requires_grad and p.dtype in (torch.bfloat16, torch.float16):
            p.data = p.data.float()
            cast += 1
    return cast


def load_model(ref: ModelRef, dtype: str = "auto", device: str = "cpu", trust_remote_code: bool = False,
               allow_pickle: bool = False, kind: str = "causal_lm", **extra: Any):
    auto_class = _auto_class(kind)
    kwargs: dict[str, Any] = {
        "dtype": torch_dtype(dtype, device),
        "trust_remote_code": trust_remote_code,
        "use_safetensors": None if allow_pickle else True,
    }
    kwargs.update(extra)
    if device == "cuda" and "device_map" not in kwargs:
        kwargs.update(distributed_placement(kwargs))
    if kind == "sequence_classification":
        kwargs.setdefault("num_labels", 1)  # one reward score per sequence
    try:
        model = auto_class.from_pretrained(ref.path, **kwargs)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise StudioError(key="models.model_needs_code_from", label=ref.label) from None
        raise
    if kind == "sequence_classification" and model.config.pad_token_id is None:
        # the score is read at the last non-pad token, so the model must know the pad id
        model.config.pad_token_id = _pad_id(ref, trust_remote_code)
    return model


def distributed_placement(kwargs: dict) -> dict:
    """Where a training process puts the weights on CUDA: its own GPU (LOCAL_RANK, set by accelerate,
    torchrun and Ray Train), never GPU 0 for every rank. Sharding engines place weights themselves:
    ZeRO-3 partitions them while they load (zero.Init, active once launch.py set the DeepSpeed config),
    and FSDP loads on the CPU (rank 0) and shards on wrap; 4-bit weights under FSDP are stored in the
    compute dtype so FSDP can shard them (peft's QLoRA + FSDP recipe)."""
    import os

    from transformers.integrations import is_deepspeed_zero3_enabled

    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true"):
        quant = kwargs.get("quantization_config")
        if quant is not None and getattr(quant, "load_in_4bit", False):
            quant.bnb_4bit_quant_storage = quant.bnb_4bit_compute_dtype
            return {"dtype": quant.bnb_4bit_compute_dtype}
        return {}
    if is_deepspeed_zero3_enabled():
        return {}
    return {"device_map": {"": int(os.environ.get("LOCAL_RANK", "0"))}}


def _pad_id(ref: ModelRef, trust_remote_code: bool) -> int:
    tok = load_tokenizer(ref, trust_remote_code)
    return tok.pad_token_id

