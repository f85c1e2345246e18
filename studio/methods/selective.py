"""Selective tuning: freeze everything except chosen transformer layers and/or module types."""

from __future__ import annotations

from ..config import opt
from ..errors import StudioError
from ._tuned import decoder_layers, freeze, load_tuned, names_list, no_merge_needed, remember, save_tuned
from .base import Method, MethodConfig


class SelectiveOptions(MethodConfig):
    layers: str = opt("all", "Transformer layers to train: all, or indices like 0,1 or 20-23 (-1 is the last)",
                      "要训练的 Transformer 层：all，或 0,1、20-23 这样的序号（-1 为最后一层）")
    modules: str = opt("all", "Parts of those layers to train: all, or names like mlp, self_attn, q_proj",
                       "这些层中要训练的部分：all，或 mlp、self_attn、q_proj 等名称")
    also_train: str = opt("", "Parts outside the layers to train too, e.g. norm, lm_head, embed_tokens",
                          "层之外也要训练的部分，例如 norm、lm_head、embed_tokens", advanced=True)


def parse_layers(text: str, count: int) -> list[int]:
    """'all' | '0,1' | '20-23' | '-2,-1' -> sorted layer indices, refusing ones the model lacks."""
    if (text or "all").strip() == "all":
        return list(range(count))
    picked: set[int] = set()
    for part in names_list(text):
        try:
            if "-" in part[1:]:
                lo, hi = part[0] + part[1:].split("-", 1)[0], part[1:].split("-", 1)[1]
                span = range(int(lo), int(hi) + 1)
            else:
                span = [int(part)]
        except ValueError:
            raise StudioError(key="methods.method_args_layers_not", part=part) from None
        for i in span:
            j = i + count if i < 0 else i
            if not 0 <= j < count:
                raise StudioError(key="methods.method_args_layers_layer", i=i, count=count, last=count - 1)
            picked.add(j)
    return sorted(picked)


def _matches(name: str, parts: list[str]) -> bool:
    pieces = name.split(".")
    return any(p in pieces for p in parts)


def wrap(model, cfg: SelectiveOptions):
    prefix, layers = decoder_layers(model)
    chosen = parse_layers(cfg.layers, len(layers))
    modules = None if cfg.modules.strip() == "all" else names_list(cfg.modules)
    extra = names_list(cfg.also_train)
    freeze(model)
    for i in chosen:
        for name, p in layers[i].named_parameters():
            if modules is None or _matches(name, modules):
                p.requires_grad_(True)
    for part in extra:
        hits = [p for name, p in model.named_parameters(remove_duplicate=False)
                if not name.startswith(prefix + ".") and _matches(name, [part])]
        if not hits:
            raise StudioError(key="methods.method_args_also_train", part=part)
        for p in hits:
            p.requires_grad_(True)
    if not any(p.requires_grad for p in model.parameters()):
        raise StudioError(key="methods.method_args_layers_with", layers=cfg.layers, modules=cfg.modules)
    return remember(model, "selective", cfg)


METHOD = Method(
    name="selective",
    config=SelectiveOptions,
    title={"en": "Selective layers", "zh": "选择性层微调"},
    summary={"en": "Trains only the layers or parts you pick (e.g. the last 2 layers, or every MLP); "
                   "the rest stays frozen.",
             "zh": "只训练你选定的层或部件（例如最后 2 层，或所有 MLP），其余部分保持冻结。"},
    when_to_use={"en": "A cheaper middle ground between LoRA and full fine-tuning, or to change style while "
                       "keeping lower layers intact. Works with the GaLore optimizer.",
                 "zh": "介于 LoRA 与全量微调之间的较省方案，或在保留底层能力的同时改变风格。可配合 GaLore 优化器。"},
    wrap=wrap,
    save=save_tuned,
    load=load_tuned,
    merge=no_merge_needed,
    dense_weights=True,
    trains_base=True,
    order=150,
)
