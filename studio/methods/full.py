"""Full fine-tuning: every weight of the model is trained; the artifact is a whole model."""

from __future__ import annotations

from pathlib import Path

from ..errors import StudioError
from ._tuned import no_merge_needed, remember
from .base import Method, MethodConfig


class FullOptions(MethodConfig):
    """Full fine-tuning has no options of its own: learning rate, precision and optimizer are in `training`."""


def wrap(model, cfg: FullOptions):
    model.requires_grad_(True)
    return remember(model, "full", cfg)


def save(model, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)


def load(base_model, folder: Path):
    """Copy the saved weights into `base_model`; tied weights (lm_head = embeddings) follow their twin."""
    from safetensors.torch import load_file

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise StudioError(key="methods.holds_no_safetensors_weights", folder=folder)
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    missing, unexpected = base_model.load_state_dict(state, strict=False)
    if unexpected:
        raise StudioError(key="methods.weights_do_not_belong", folder=folder, unexpected=unexpected[:3])
    loaded = {p.data_ptr() for n, p in base_model.named_parameters() if n in state}
    untied = [n for n, p in base_model.named_parameters(remove_duplicate=False)
              if n in missing and p.data_ptr() not in loaded]
    if untied:
        raise StudioError(key="methods.weights_are_missing", folder=folder, untied=untied[:3])
    base_model.requires_grad_(False)
    return base_model.eval()


METHOD = Method(
    name="full",
    config=FullOptions,
    title={"en": "Full fine-tuning", "zh": "全量微调"},
    summary={"en": "Trains every weight of the model. The result is a complete new model.",
             "zh": "训练模型的全部权重，得到一个完整的新模型。"},
    when_to_use={"en": "Large, varied data and enough memory (about 4x the weights for Adam); the most capacity, "
                       "the most forgetting risk. Pair with the GaLore optimizer to cut optimizer memory.",
                 "zh": "数据量大且多样、显存充足（Adam 约需权重的 4 倍）时使用；容量最大，遗忘风险也最大。"
                       "可配合 GaLore 优化器减少优化器显存。"},
    wrap=wrap,
    save=save,
    load=load,
    merge=no_merge_needed,
    artifact="full",
    dense_weights=True,
    trains_base=True,
    order=170,
)
