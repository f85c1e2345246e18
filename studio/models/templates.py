"""Named chat templates for base models that ship without one, and choosing the template in use.

Each template wraps assistant turns in `{% generation %}` so trl's `assistant_only_loss` can find
them (Hugging Face returns `assistant_masks` from those markers). The Data tab's preview and the
training run both go through `apply` with the spec's `model.chat_template`, so what the preview
shows is what training renders.
"""

from __future__ import annotations

from ..errors import StudioError

FALLBACK = "chatml"

TEMPLATES = {
    "chatml": (
        "{% for message in messages %}"
        "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
        "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
        "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "alpaca": (
        "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
        "{% elif message['role'] == 'user' %}{{ '### Instruction:\n' + message['content'] + '\n\n' }}"
        "{% elif message['role'] == 'assistant' %}{{ '### Response:\n' }}"
        "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}{{ '\n\n' }}"
        "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
        "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] | trim + '<|eot_id|>' }}"
        "{% endgeneration %}{% else %}{{ message['content'] | trim + '<|eot_id|>' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
}


def named_template(name: str) -> str:
    if name not in TEMPLATES:
        raise StudioError(key="templates.unknown_chat_template", name=name, templates=', '.join(TEMPLATES))
    return TEMPLATES[name]


def apply(tokenizer, name: str | None) -> str | None:
    """Put the named template on the tokenizer; returns the name in use, None for the model's own.

    Raises when the model has no template and none is named: conversations cannot be rendered.
    """
    if name:
        tokenizer.chat_template = named_template(name)
        return name
    if not getattr(tokenizer, "chat_template", None):
        raise StudioError(key="templates.model_no_chat_template", templates=', '.join(TEMPLATES), fallback=FALLBACK)
    return None


def has_generation_marks(tokenizer) -> bool:
    """Whether trl's `assistant_only_loss` can work with this template."""
    return "{% generation %}" in (getattr(tokenizer, "chat_template", None) or "")
