"""VeRA (peft): one pair of frozen random matrices shared by all layers; only two scaling vectors per
layer are trained, so an adapter is a few thousand numbers."""

from __future__ import annotations

from ..config import opt
from .base import Method, MethodConfig
from .lora import targets


class VeraOptions(MethodConfig):
    r: int = opt(256, "Rank of the shared random matrices (VeRA uses high ranks; they are not trained)",
                 "共享随机矩阵的秩（VeRA 使用较高的秩，且不训练）", ge=1, le=4096)
    target_modules: str = opt("all-linear", "Layers to adapt: all-linear, or names like q_proj,v_proj",
                              "要适配的层：all-linear 或 q_proj,v_proj 等名称")
    d_initial: float = opt(0.1, "Starting value of the trained scaling vector d", "可训练缩放向量 d 的初始值",
                           gt=0, le=1, advanced=True)
    dropout: float = opt(0.0, "Dropout on the adapter input", "适配器输入的 dropout", ge=0, lt=1, advanced=True)
    seed: int = opt(0, "Seed of the shared random matrices (saved with the adapter)",
                    "共享随机矩阵的种子（随适配器保存）", advanced=True)


def wrap(model, cfg: VeraOptions):
    from peft import VeraConfig, get_peft_model

    from ..models.loading import peft_task_type

    return get_peft_model(model, VeraConfig(r=cfg.r, target_modules=targets(cfg.target_modules),
                                            d_initial=cfg.d_initial, vera_dropout=cfg.dropout,
                                            projection_prng_key=cfg.seed, save_projection=True,
                                            task_type=peft_task_type(model)))


METHOD = Method(
    name="vera",
    config=VeraOptions,
    title={"en": "VeRA (vector-based random adaptation)", "zh": "VeRA（基于向量的随机矩阵适配）"},
    summary={"en": "Like LoRA, but the low-rank matrices are random, frozen and shared by all layers; each "
                   "layer trains only two small scaling vectors.",
             "zh": "与 LoRA 类似，但低秩矩阵是随机、冻结且各层共享的；每层只训练两个小的缩放向量。"},
    when_to_use={"en": "When adapters must be tiny (many per-user adapters, little storage). Learns less than "
                       "LoRA; usually needs a higher learning rate.",
                 "zh": "需要极小的适配器时（大量按用户区分的适配器、存储很少）。学习能力弱于 LoRA，通常需要更高的学习率。"},
    wrap=wrap,
    order=60,
)
