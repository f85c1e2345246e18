"""LoRA, QLoRA and DoRA change real behaviour: the embedded SmolLM2 learns the made-up name "Orbiton".

Each method trains on assets/samples/identity_alpaca.jsonl through the real recipe (lr 5e-4, batch 8,
30 steps: what PLATFORM.md measured to work on this CPU), then the saved artifact is loaded onto a
fresh base with `method.load` and asked questions that are not in the training file, greedily. The
base model never says "Orbiton"; the tuned one must.

(Only the name is asserted: 48 identity rows and nothing else is narrow data. At these settings LoRA
still answered "Paris" to a capital question, while QLoRA answered it with its new identity too.)
"""

from __future__ import annotations

import pytest

from conftest import train_inline
from studio import methods

pytestmark = pytest.mark.slow

EMBEDDED = "smollm2-135m-instruct"
HELD_OUT = ["Tell me your name, please.", "What name do you go by?", "Who is this I'm chatting with?"]


def load_base(method_name: str, method_args: dict):
    """A fresh embedded base, quantised the way the method trained it."""
    from studio.models import resolve
    from studio.models.loading import load_model

    method = methods.REGISTRY.get(method_name)
    cfg = method.config.model_validate(method_args)
    return load_model(resolve(EMBEDDED), "auto", "cpu", **method.load_kwargs(cfg, "cpu"))


def answers(model, prompts: list[str], max_new_tokens: int = 24) -> list[str]:
    """Greedy answers, one chat turn each, batched with left padding."""
    import torch

    from studio.models import resolve
    from studio.models.loading import load_tokenizer

    tok = load_tokenizer(resolve(EMBEDDED))
    tok.padding_side = "left"
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in prompts]
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    model.eval()
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    return [tok.decode(row[batch["input_ids"].shape[1]:], skip_special_tokens=True).strip() for row in out]


@pytest.fixture(scope="module")
def base_answers(embedded_model):
    return answers(load_base("lora", {}), HELD_OUT)


@pytest.mark.parametrize("method_name, method_args", [
    ("lora", {"r": 16, "alpha": 32}),
    ("qlora", {"r": 16, "alpha": 32}),
    ("dora", {"r": 16, "alpha": 32}),
], ids=["lora", "qlora", "dora"])
def test_method_teaches_the_embedded_model_a_name(method_name, method_args, base_answers, workspace,
                                                  identity_data):
    assert not any("orbiton" in a.lower() for a in base_answers), base_answers
    spec = {"model": {"name": EMBEDDED}, "data": {"path": str(identity_data)}, "method": method_name,
            "method_args": method_args, "stage": "sft",
            "training": {"max_steps": 30, "learning_rate": 5e-4, "batch_size": 8, "max_length": 128,
                         "save_steps": 30}}
    _run_dir, artifacts = train_inline(workspace, spec, name=method_name)
    tuned = methods.REGISTRY.get(method_name).load(load_base(method_name, method_args), artifacts["adapter"])
    got = answers(tuned, HELD_OUT)
    assert all("orbiton" in a.lower() for a in got), f"{method_name}: {got}"
