"""The run spec: one typed description of a fine-tuning run.

The UI, the YAML presets and the CLI all build a `RunSpec`, and the worker reads only the spec. The
method and stage options live in their own registries (`studio.methods`, `studio.stages`); the spec
keeps their arguments as plain dicts and validates them against the chosen entry's config class.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .config import Strict, opt
from .errors import StudioError

DEFAULT_MODEL = "smollm2-135m-instruct"
Auto = Literal["auto"]  # a value the default recipe (studio/recipe/auto.py) decides from the data and method


class ModelSpec(Strict):
    name: str = opt(DEFAULT_MODEL, "Model: a registry name, a local Hugging Face folder, or a hub id",
                    "模型：内置名称、本地 Hugging Face 文件夹或 Hub ID")
    revision: str | None = opt(None, "Hub revision (commit or tag) to pin", "Hub 版本（提交或标签）", advanced=True)
    trust_remote_code: bool = opt(False, "Run code shipped with the model (only for models you trust)",
                                  "运行模型自带的代码（仅限可信模型）", advanced=True)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = opt(
        "auto", "Weight precision when loading", "加载权重的精度", advanced=True)
    allow_pickle: bool = opt(False, "Allow pickle weights (.bin/.pt); only for files you trust",
                             "允许加载 pickle 权重（.bin/.pt），仅限可信文件", advanced=True)
    chat_template: str | None = opt(None, "Named chat template for base models without one",
                                    "为没有对话模板的基座模型指定模板", advanced=True)


class DataSpec(Strict):
    path: str = opt("", "Training data: a file, a folder, or a saved dataset name",
                    "训练数据：文件、文件夹或已保存的数据集名称")
    format: str = opt("auto", "Data format (auto-detected)", "数据格式（自动检测）")
    columns: dict[str, str] = opt({}, "Column mapping: your column -> schema field",
                                  "列映射：你的列名 -> 规范字段", advanced=True)
    val_size: Annotated[float, Field(ge=0.0, lt=0.9)] | Auto = opt(
        0.0, "Fraction of rows held out for validation (auto: an eighth when there are 16 rows or more)",
        "验证集比例（auto：数据不少于 16 行时留出八分之一）")
    max_rows: int | None = opt(None, "Use at most this many rows", "最多使用的行数", ge=1, advanced=True)
    system_prompt: str | None = opt(None, "System prompt added to every example", "添加到每条样本的系统提示",
                                    advanced=True)
    keep_general: bool = opt(False, "Keep general abilities: mix in the base model's own answers to general "
                                    "questions (SFT)", "保留通用能力：混入基座模型对通用问题的自有回答（SFT）")
    replay_ratio: Annotated[float, Field(ge=0.0, le=10.0)] | Auto = opt(
        "auto", "General rows mixed in per training row (auto: from the dataset size)",
        "每条训练数据混入的通用数据条数（auto：按数据量决定）", advanced=True)


class TrainingSpec(Strict):
    max_steps: Annotated[int, Field(ge=-1)] | Auto = opt(
        -1, "Stop after this many optimizer steps (-1: use epochs; auto: from the rows and epochs)",
        "训练步数上限（-1 表示按轮数；auto：按数据行数和轮数决定）")
    num_epochs: Annotated[float, Field(gt=0)] | Auto = opt(
        3.0, "Passes over the data (auto: more for small data)", "训练轮数（auto：数据少时多训几轮）")
    learning_rate: Annotated[float, Field(gt=0, lt=1)] | Auto = opt(
        2e-4, "Learning rate (auto: from the method and LoRA rank)", "学习率（auto：按方法和 LoRA 秩决定）")
    batch_size: int = opt(8, "Examples per step on each device", "每个设备每步的样本数", ge=1)
    grad_accum: int = opt(1, "Gradient accumulation steps", "梯度累积步数", ge=1)
    max_length: int = opt(1024, "Longest example in tokens (longer ones are truncated and reported)",
                          "最大长度（token），更长的样本会被截断并报告", ge=16)
    seed: int = opt(42, "Random seed", "随机种子")
    save_steps: int = opt(50, "Save a resumable checkpoint every N steps", "每 N 步保存可恢复的检查点", ge=1)
    save_total_limit: int = opt(3, "Keep at most this many checkpoints", "最多保留的检查点数", ge=1,
                                advanced=True)
    logging_steps: int = opt(1, "Log loss every N steps", "每 N 步记录损失", ge=1, advanced=True)
    eval_steps: int | None = opt(None, "Evaluate every N steps (needs a validation split)",
                                 "每 N 步评估（需要验证集）", ge=1, advanced=True)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = opt(
        "linear", "Learning-rate schedule", "学习率调度", advanced=True)
    warmup_ratio: float = opt(0.0, "Fraction of steps spent warming up", "预热步数比例", ge=0, lt=1,
                              advanced=True)
    weight_decay: float = opt(0.0, "Weight decay", "权重衰减", ge=0, advanced=True)
    max_grad_norm: float = opt(1.0, "Gradient clipping norm", "梯度裁剪范数", gt=0, advanced=True)
    optimizer: str = opt("adamw_torch", "Optimizer (transformers name, e.g. adamw_torch, paged_adamw_8bit, galore_adamw)",
                         "优化器（transformers 名称）", advanced=True)
    optim_target_modules: str = opt(
        "all-linear", "Layers whose gradients GaLore/APOLLO optimizers project: all-linear, or names like "
                      "q_proj,v_proj,up_proj", "GaLore/APOLLO 优化器投影其梯度的层：all-linear 或 q_proj,v_proj,up_proj 等名称",
        advanced=True)
    optim_args: str = opt("", "Extra optimizer options as key=value pairs, e.g. rank=128, update_proj_gap=200, "
                              "scale=0.25 for GaLore", "优化器的额外参数（key=value 形式），如 GaLore 的 rank=128, "
                              "update_proj_gap=200, scale=0.25", advanced=True)
    gradient_checkpointing: bool = opt(False, "Trade compute for memory (slower, fits bigger batches)",
                                       "以计算换显存（更慢，可用更大批次）", advanced=True)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = opt(
        "auto", "Training precision (auto: bf16 mixed precision where the GPU or CPU computes bf16 natively, else fp32)",
        "训练精度（auto：GPU 或 CPU 原生支持 bf16 时用 bf16 混合精度，否则用 fp32）", advanced=True)
    packing: bool = opt(False, "Pack short examples together (faster on many short rows)",
                        "将短样本拼接打包（短样本多时更快）", advanced=True)

    @field_validator("optim_args")
    @classmethod
    def _pairs(cls, text: str) -> str:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if part.count("=") != 1 or not all(x.strip() for x in part.split("=")):
                raise ValueError(f"'{part}' is not key=value; write e.g. rank=128, scale=0.25")
        return text


class ResourceSpec(Strict):
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "Where to train", "训练设备")
    num_gpus: int = opt(1, "GPUs to use (more than one launches one process per GPU)",
                        "使用的 GPU 数量（多于一个时每卡一个进程）", ge=1, advanced=True)
    deepspeed: Literal["none", "zero2", "zero3"] = opt("none", "DeepSpeed ZeRO stage for multi-GPU runs",
                                                      "多卡训练的 DeepSpeed ZeRO 阶段", advanced=True)
    launcher: Literal["auto", "accelerate"] = opt(
        "auto", "How training starts: auto (one process; accelerate launch when num_gpus > 1) or always through "
                "accelerate launch", "训练的启动方式：auto（单进程；num_gpus > 1 时用 accelerate launch）或总是用 accelerate launch",
        advanced=True)
    ignore_memory_check: bool = opt(False, "Start even when the memory estimate says the run does not fit",
                                    "即使内存估算认为放不下也启动训练", advanced=True)
    # --- multi-device and cluster fields (cluster engineer; studio/train/launch.py reads them) ---
    devices: str = opt("", "GPU indices to train on, e.g. 0,1,3 (empty: the first num_gpus GPUs)",
                       "用于训练的 GPU 编号，如 0,1,3（留空：前 num_gpus 张卡）", advanced=True,
                       pattern=r"^\s*(\d+\s*(,\s*\d+\s*)*)?$")
    processes: int = opt(0, "Training processes per machine (0: one per GPU; on a CPU: CPU processes)",
                         "每台机器的训练进程数（0：每卡一个；CPU 上为 CPU 进程数）", ge=0, advanced=True)
    strategy: Literal["auto", "ddp", "fsdp", "zero1", "zero2", "zero3"] = opt(
        "auto", "How several processes share the work: ddp (a full copy each), fsdp (full shard), DeepSpeed "
                "ZeRO stage 1/2/3 (auto: ddp, or the old deepspeed key)",
        "多进程的分工方式：ddp（每个进程一份完整模型）、fsdp（完全切分）、DeepSpeed ZeRO 1/2/3（auto：ddp 或旧的 deepspeed 设置）",
        advanced=True)
    offload: Literal["none", "optimizer", "all"] = opt(
        "none", "Move optimizer states (optimizer) or also the weights (all) to CPU memory (ZeRO, FSDP)",
        "把优化器状态（optimizer）或连同权重（all）放到 CPU 内存（ZeRO、FSDP）", advanced=True)
    nodes: int = opt(1, "Machines to train on (on a Ray or Slurm cluster)", "训练使用的机器数（Ray 或 Slurm 集群）",
                     ge=1, advanced=True)
    liger: bool = opt(False, "Liger fused kernels (CUDA, when liger-kernel is installed)",
                      "Liger 融合算子（CUDA，且已安装 liger-kernel）", advanced=True)
    flash_attention: bool = opt(False, "FlashAttention-2 (CUDA, when flash-attn is installed)",
                                "FlashAttention-2（CUDA，且已安装 flash-attn）", advanced=True)
    cluster: str = opt("", "Run on this cluster (studio cluster list; empty: this machine)",
                       "在此集群上运行（studio cluster list；留空：本机）", advanced=True)

    @field_validator("devices", mode="before")
    @classmethod
    def _device_list(cls, value):
        """`--set devices=1` reads as a number and `devices: [0, 1]` as a list in YAML: both mean GPU indices."""
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        return value

    @model_validator(mode="after")
    def _old_deepspeed_key(self) -> "ResourceSpec":
        """`deepspeed: zero2|zero3` (older specs) means `strategy: zero2|zero3`; both set must agree."""
        if self.deepspeed != "none":
            if self.strategy not in ("auto", self.deepspeed):
                raise ValueError(f"resources.deepspeed={self.deepspeed} and resources.strategy={self.strategy} "
                                 f"disagree; keep only strategy (deepspeed is its older name)")
            object.__setattr__(self, "strategy", self.deepspeed)
        elif self.strategy in ("zero2", "zero3"):  # readers of the older key (the estimate) see the same stage
            object.__setattr__(self, "deepspeed", self.strategy)
        return self


class RunSpec(Strict):
    name: str | None = opt(None, "Run name (a folder under runs/)", "运行名称（runs/ 下的文件夹）")
    model: ModelSpec = ModelSpec()
    data: DataSpec = DataSpec()
    method: str = opt("lora", "Fine-tuning method", "微调方法")
    method_args: dict[str, Any] = opt({}, "Options of the chosen method", "所选方法的参数")
    stage: str = opt("sft", "Training stage", "训练阶段")
    stage_args: dict[str, Any] = opt({}, "Options of the chosen stage", "所选阶段的参数")
    training: TrainingSpec = TrainingSpec()
    resources: ResourceSpec = ResourceSpec()

    @model_validator(mode="after")
    def _check_entries(self) -> "RunSpec":
        from . import methods, stages

        method = methods.REGISTRY.get(self.method)
        stage = stages.REGISTRY.get(self.stage)
        object.__setattr__(self, "method_args",
                           _validated(method.config, self.method_args, "method_args").model_dump())
        object.__setattr__(self, "stage_args",
                           _validated(stage.config, self.stage_args, "stage_args").model_dump())
        method.check(self)
        stage.check(self)
        return self

    def method_config(self):
        from . import methods

        return methods.REGISTRY.get(self.method).config.model_validate(self.method_args)

    def stage_config(self):
        from . import stages

        return stages.REGISTRY.get(self.stage).config.model_validate(self.stage_args)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _validated(config: type[BaseModel], args: dict, where: str) -> BaseModel:
    try:
        return config.model_validate(args)
    except ValidationError as exc:
        raise StudioError(key="spec.invalid_options", detail=first_error(exc, prefix=where, model=config)) from None


# ---------------------------------------------------------------- building specs from YAML / --set

def _leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    paths: dict[tuple[str, ...], Any] = {}
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            paths.update(_leaf_paths(ann, prefix + (name,)))
        else:
            paths[prefix + (name,)] = info
    return paths


def bare_keys(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Leaf names of a spec class that are unique, mapped to their dotted place (for --set)."""
    keys: dict[str, list[tuple[str, ...]]] = {}
    for path in _leaf_paths(model):
        keys.setdefault(path[-1], []).append(path)
    return {k: v[0] for k, v in keys.items() if len(v) == 1}


def _keys_for(raw: dict) -> dict[str, tuple[str, ...]]:
    """Every bare name usable in --set mapped to its place in the spec (method/stage args included)."""
    from . import methods, stages

    keys: dict[str, list[tuple[str, ...]]] = {}
    for path in _leaf_paths(RunSpec):
        keys.setdefault(path[-1], []).append(path)
    method = raw.get("method", "lora")
    stage = raw.get("stage", "sft")
    for field in methods.REGISTRY.get(method).config.model_fields if method in methods.REGISTRY else []:
        keys.setdefault(field, []).append(("method_args", field))
    for field in stages.REGISTRY.get(stage).config.model_fields if stage in stages.REGISTRY else []:
        keys.setdefault(field, []).append(("stage_args", field))
    return {k: v[0] for k, v in keys.items() if len(v) == 1}


ENTRY_ARGS = {"method": "method_args", "stage": "stage_args"}


def carry_args(kind: str, new_name: str, old_args: dict | None) -> tuple[dict, list[str]]:
    """The options of another method/stage that the entry `new_name` also accepts, and those it does not.

    Switching entries starts from the new entry's defaults: an option carries over only when the new
    config has a field of that name (LoRA's `r` to DoRA, not to IA3). The UI and `--set method=...`
    both go through here, so they keep and drop the same options.
    """
    from . import methods, stages

    registry = methods.REGISTRY if kind == "method" else stages.REGISTRY
    config = registry.get(new_name).config
    args = dict(old_args or {})
    kept = _valid_subset(config, {k: v for k, v in args.items() if k in config.model_fields})
    return kept, sorted(k for k in args if k not in kept)


def _valid_subset(config: type[BaseModel], args: dict) -> dict:
    """`args` if the config accepts them together, else without the one(s) it refuses (a name both
    entries share can mean another thing: LoRA's target_modules=all-linear is not enough for IA3)."""
    def ok(candidate: dict) -> bool:
        try:
            config.model_validate(candidate)
            return True
        except ValidationError:
            return False

    if ok(args):
        return args
    for key in args:
        rest = {k: v for k, v in args.items() if k != key}
        if ok(rest):
            return rest
    return {}


def switch_entry(raw: dict, kind: str, name: str, notes: list[str] | None = None) -> dict:
    """Set raw[kind] (method or stage) to `name`, keeping only the options the new entry accepts.

    A note saying which options were dropped goes to `notes` (in English; the key is
    spec.dropped_options for other languages).
    """
    args_key = ENTRY_ARGS[kind]
    if raw.get(kind) == name:
        return raw
    kept, dropped = carry_args(kind, name, raw.get(args_key))
    raw[kind] = name
    raw[args_key] = kept
    if dropped and notes is not None:
        notes.append(dropped_note(kind, name, dropped))
    return raw


def dropped_note(kind: str, name: str, dropped: list[str], lang: str = "en") -> str:
    from .i18n import text

    return text("spec.dropped_options", lang, kind=kind, name=name, keys=", ".join(dropped),
                where=ENTRY_ARGS[kind])


def apply_override(raw: dict, assignment: str, notes: list[str] | None = None,
                   model: type[BaseModel] | None = None, command: str = "train") -> dict:
    """Apply one `key=value` (a bare spec name such as `max_steps`, or a dotted path).

    `method=` / `stage=` switch the entry through `switch_entry` (its options start from the new
    entry's defaults); what was dropped is added to `notes`. `model` is the spec class for another
    job kind (a merge, serve, eval or generate spec): its own leaf names are the bare keys.
    """
    if "=" not in assignment:
        raise StudioError(key="spec.set_no_equals", text=repr(assignment))
    key, _, text = assignment.partition("=")
    key = key.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    if "." in key:
        path = tuple(key.split("."))
    else:
        known = _keys_for(raw) if model is None else bare_keys(model)
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            if close:
                raise StudioError(key="spec.set_unknown_close", name=key, close=close[0])
            raise StudioError(key="spec.set_unknown", name=key, command=command)
        path = known[key]
    if model is None and len(path) == 1 and path[0] in ENTRY_ARGS and isinstance(value, str):
        from . import methods, stages

        registry = methods.REGISTRY if path[0] == "method" else stages.REGISTRY
        registry.get(value)  # an unknown name is refused here, with the close match
        return switch_entry(raw, path[0], value, notes)
    node = raw
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise StudioError(key="spec.set_not_section", name=key, part=part)
    node[path[-1]] = value
    return raw


def build_spec(raw: dict | None, overrides: list[str] | tuple[str, ...] = (), source: str = "spec",
               notes: list[str] | None = None) -> RunSpec:
    """Validate a raw mapping (from YAML, a preset or the UI) plus `--set` overrides into a RunSpec.

    `notes` collects what the overrides changed beyond the key itself (options dropped by a switch
    of method or stage), for the caller to show.
    """
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise StudioError(key="spec.not_a_mapping", source=source)
    for item in overrides:
        apply_override(raw, item, notes)
    try:
        return RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise StudioError(key="spec.invalid_file", source=source, detail=first_error(exc, model=RunSpec)) from None


def build_typed(model: type[BaseModel], raw: dict | None, overrides: list[str] | tuple[str, ...] = (),
                source: str = "spec", command: str = "train") -> BaseModel:
    """A job spec of any kind (merge, serve, eval, generate) from a raw mapping plus `--set` overrides.

    The same rules and messages as `build_spec`: bare leaf names or dotted paths in --set, unknown keys
    refused with the closest valid one.
    """
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise StudioError(key="spec.not_a_mapping", source=source)
    for item in overrides:
        apply_override(raw, item, model=model, command=command)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise StudioError(key="spec.invalid", source=source, problem=first_error(exc, model=model)) from None


def spec_yaml(spec: BaseModel) -> str:
    """A typed spec as the YAML the CLI accepts (what the UI shows before a job starts)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise StudioError(key="spec.yaml_not_found", path=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise StudioError(key="spec.yaml_invalid", path=str(path), where=where,
                          problem=str(getattr(exc, "problem", exc))) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StudioError(key="spec.not_a_mapping", source=str(path))
    return data


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunSpec:
    return build_spec(load_yaml(path), overrides, source=str(path))


def first_error(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    where = ".".join(([prefix] if prefix else []) + loc)
    if err["type"] == "extra_forbidden":
        valid = _valid_keys_at(model, err["loc"][:-1]) if model else []
        close = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(valid)}"
        return f"unknown key '{where}' — {hint}"
    if err["type"] == "value_error" and not loc:
        return str(err.get("ctx", {}).get("error", err["msg"]))
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"{where}: {err['msg']}{shown}"


def _valid_keys_at(model: type[BaseModel], loc: tuple) -> list[str]:
    current: Any = model
    for part in loc:
        info = current.model_fields.get(part) if isinstance(current, type) else None
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return []
        current = info.annotation
    return list(current.model_fields)
