"""Pieces several stages share: refusals, the reference model, extra models, sampling answers."""

from __future__ import annotations

from typing import Any

from ..errors import StudioError


def no_packing(spec: Any, stage_title: str) -> None:
    """Packing glues rows into one sequence; pairwise and online losses need every row on its own."""
    if spec.training.packing:
        raise StudioError(key="stages.training_packing_compares_whole", stage_title=stage_title)


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def reference_model(ctx) -> Any:
    """The frozen starting model that KL-regularised stages compare against.

    A peft model is its own reference (trl switches the adapter off), so nothing is loaded. Any other
    method changes the base weights or hooks into them, so a fresh copy of the base is loaded the same
    way the runner loaded it (safetensors only, the user's dtype).
    """
    if is_peft(ctx.model):
        return None
    from ..models.loading import load_model

    spec = ctx.spec
    ref = load_model(ctx.model_ref, spec.model.dtype, ctx.device, spec.model.trust_remote_code,
                     spec.model.allow_pickle)
    ref.requires_grad_(False)
    return ref.eval()


def load_other_model(name: str, ctx, what: str):
    """Load a second model (a teacher, a judge) by registry name, local folder or hub id: (ref, model, tokenizer)."""
    from ..models import resolve
    from ..models.loading import load_model, load_tokenizer

    ctx.progress(f"Loading the {what} {name}")
    ref = resolve(name, allow_pickle=False)
    tokenizer = load_tokenizer(ref)
    model = load_model(ref, ctx.spec.model.dtype, ctx.device)
    model.requires_grad_(False)
    return ref, model.eval(), tokenizer


def chat_texts(tokenizer, prompts: list) -> list[str]:
    """Prompts (chat turns or plain text) rendered with the generation prompt, as the model will see them."""
    out = []
    for prompt in prompts:
        turns = prompt if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]
        out.append(tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True))
    return out


def sample_answers(model, tokenizer, prompts: list, n: int, max_new_tokens: int, temperature: float,
                   top_k: int = 0, batch_size: int = 8, seed: int = 0) -> list[list[str]]:
    """`n` sampled answers for each prompt from `model`: one list of n answers per prompt."""
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    texts = chat_texts(tokenizer, prompts)
    answers: list[list[str]] = [[] for _ in prompts]
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    try:
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                out = model.generate(**enc, do_sample=temperature > 0, temperature=temperature or None, top_p=1.0,
                                     top_k=top_k, max_new_tokens=max_new_tokens, num_return_sequences=n,
                                     pad_token_id=tokenizer.pad_token_id)
            new = out[:, enc["input_ids"].shape[1]:]
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            for j, text in enumerate(decoded):
                answers[start + j // n].append(text.strip())
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return answers


def preference_args(ctx, **stage_kwargs) -> dict:
    """Common kwargs of trl's pairwise configs (DPO, ORPO, CPO/SimPO, KTO, reward)."""
    args = dict(ctx.training_args)
    args.update(max_length=ctx.spec.training.max_length, dataset_num_proc=None)
    args.update(stage_kwargs)
    return args
