"""An Ollama `Modelfile` for an exported GGUF: `ollama create NAME -f Modelfile` imports it.

Ollama reads the chat template embedded in the GGUF for the families it knows; the Modelfile still
spells the template out in Ollama's Go-template syntax for the families we can recognise (ChatML,
Llama 3), with their stop tokens, so the model answers in turns rather than running on.
"""

from __future__ import annotations

from pathlib import Path

CHATML = ('{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
          '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}'
          '<|im_start|>assistant\n')
LLAMA3 = ('{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}'
          '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>'
          '{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n')
FAMILIES = {"<|im_start|>": (CHATML, ["<|im_start|>", "<|im_end|>"]),
            "<|start_header_id|>": (LLAMA3, ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])}


def chat_template(model_folder: Path) -> str:
    import json

    jinja = model_folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg = model_folder / "tokenizer_config.json"
    if cfg.is_file():
        value = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        return value if isinstance(value, str) else ""
    return ""


def modelfile(gguf_name: str, template_source: str, temperature: float = 0.7) -> str:
    lines = [f"FROM ./{gguf_name}", ""]
    for marker, (template, stops) in FAMILIES.items():
        if marker in template_source:
            lines.append(f'TEMPLATE """{template}"""')
            lines += [f'PARAMETER stop "{s}"' for s in stops]
            break
    else:
        lines.append("# the chat template embedded in the GGUF is used")
    lines.append(f"PARAMETER temperature {temperature}")
    return "\n".join(lines) + "\n"
