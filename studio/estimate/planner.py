"""The estimate: memory parts per device, the verdict, the time, and changes that would lower it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import StudioError
from .configs import REFERENCE_SHAPES, model_config, shape_params
from .data import DataStats, data_stats, expected_batch_max, tokenizer_for
from .hardware import Hardware, hardware_here
from .optimizer import optimizer_bytes
from .probe import Probe, dtypes, probe
from .sharding import per_device, world_of
from .units import CALIBRATION, TIGHT_AT, TOKEN_CHUNK, VOCAB_CHUNK, human, human_time, text

@dataclass
class Suggestion:
    key: str
    values: dict
    total: int
    fits: bool

    def text(self, lang: str = "en") -> str:
        return text(lang, "sug_result", text=text(lang, self.key, **self.values), total=human(self.total))


@dataclass
class Estimate:
    parts: dict[str, int]
    total: int
    hardware: Hardware
    verdict: str  # fits | tight | too_big | unknown
    suggestions: list[Suggestion]
    details: dict
    seconds_per_step: float | None = None
    steps: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def eta_s(self) -> float | None:
        return None if self.seconds_per_step is None or self.steps is None else self.seconds_per_step * self.steps

    def headline(self, lang: str = "en") -> str:
        h = self.hardware
        values = dict(total=human(self.total), available=human(h.memory or 0), where=h.label,
                      pct=round(100 * self.total / h.memory) if h.memory else 0)
        return text(lang, self.verdict, **values)

    def time_line(self, lang: str = "en") -> str:
        if self.seconds_per_step is None:
            return text(lang, "no_time")
        return text(lang, "time", step=human_time(self.seconds_per_step), steps=self.steps,
                    eta=human_time(self.eta_s), how=self.details.get("time_how", ""))

    def rows(self, lang: str = "en") -> list[tuple[str, str, float]]:
        """(part, size, share of the total) for a table or a bar."""
        return [(text(lang, k), human(v), v / self.total if self.total else 0.0)
                for k, v in self.parts.items() if v > 0]

    def report(self, lang: str = "en") -> str:
        width = max(len(name) for name, _s, _f in self.rows(lang))
        lines = [self.headline(lang), ""]
        for name, size, share in self.rows(lang):
            lines.append(f"  {name:<{width}}  {size:>10}  {'█' * max(1, round(share * 30))}")
        lines.append(f"  {'=' * width}  {human(self.total):>10}")
        lines += ["", self.time_line(lang)]
        d = self.details
        lines.append(f"model {d['model']} ({d['params']:,} parameters, {d['trainable']:,} trainable; "
                     f"{d['config_source']}); batch {d['batch']} × {d['sequences']:g} seq × {d['seq_len']} tokens"
                     f"{' (checkpointing)' if d['checkpointing'] else ''}; {d['data_how']}")
        lines += self.notes
        for s in self.suggestions:
            lines.append(("✓ " if s.fits else "· ") + s.text(lang))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "total_bytes": self.total, "parts_bytes": self.parts,
                "available_bytes": self.hardware.memory, "hardware": asdict(self.hardware),
                "seconds_per_step": self.seconds_per_step, "steps": self.steps, "eta_s": self.eta_s,
                "suggestions": [{"text": s.text("en"), "total_bytes": s.total, "fits": s.fits}
                                for s in self.suggestions],
                "details": self.details, "notes": self.notes, "headline": self.headline("en")}


def estimate(spec, workspace_root: Path | None = None, hardware: Hardware | None = None,
             config: dict | None = None, suggest: bool = True, quick: bool = False) -> Estimate:
    """Memory (per device) and time of `spec` on `hardware` (default: this machine now).

    `quick` (the check before a run starts) skips the time estimate.
    """
    from ..recipe.concrete import concrete  # `auto` steps / learning rate / split: the numbers the run will use

    spec = concrete(spec, workspace_root)
    hw = hardware or hardware_here(spec, timing=not quick)
    if quick:
        hw.flops = None
    cfg, source = (config, "given architecture") if config else model_config(spec.model.name, spec.model.revision)
    tokenizer = tokenizer_for(spec)
    stats = data_stats(spec, workspace_root, tokenizer)
    plan = _plan(spec, hw, stats)
    result = _assemble(spec, hw, cfg, plan)
    result.details.update(config_source=source, data_how=plan["data_how"])
    if suggest and result.verdict in ("tight", "too_big"):
        result.suggestions = _suggestions(spec, hw, cfg, plan, result)
    return result


def _plan(spec, hw: Hardware, stats: DataStats | None) -> dict:
    """Sequence lengths and steps: from the data when it can be read, else max_length everywhere."""
    from .. import stages

    t = spec.training
    mem = stages.REGISTRY.get(spec.stage).memory(spec)
    if stats is None or t.packing or not stats.lengths:
        seq = time_seq = t.max_length
        how = "no data read: every row taken as max_length tokens" if stats is None else \
            ("packing: every sequence is max_length tokens" if t.packing else stats.how)
    else:
        seq = min(t.max_length, stats.longest)
        time_seq = min(t.max_length, round(expected_batch_max(stats.lengths, t.batch_size)))
        how = f"{stats.how}; longest {stats.longest}"
    seq = max(8, seq + mem.generated_tokens) if mem.generated_tokens else max(8, seq)
    time_seq = max(8, time_seq + mem.generated_tokens)
    if t.max_steps > 0:
        steps = t.max_steps
    elif stats is not None:
        rows = stats.rows
        if t.packing:
            rows = max(1, math.ceil(sum(stats.lengths) * stats.rows / max(1, len(stats.lengths)) / t.max_length))
        per_step = t.batch_size * t.grad_accum * max(1, spec.resources.num_gpus)
        steps = max(1, math.ceil(rows / per_step) * math.ceil(t.num_epochs))
    else:
        steps = None
    return {"seq": seq, "time_seq": time_seq, "steps": steps, "memory": mem, "data_how": how}


def _assemble(spec, hw: Hardware, cfg: dict, plan: dict, batch: int | None = None, seq: int | None = None,
              checkpointing: bool | None = None, optimizer: str | None = None, deepspeed: str | None = None,
              count: int | None = None, probed: Probe | None = None) -> Estimate:
    t = spec.training
    mem = plan["memory"]
    batch = batch or t.batch_size
    seq = seq or plan["seq"]
    ckpt = t.gradient_checkpointing if checkpointing is None else checkpointing
    optim = optimizer or t.optimizer
    r = spec.resources
    zero = deepspeed or spec.resources.deepspeed
    strategy = deepspeed or ("ddp" if r.strategy == "auto" else r.strategy)  # the suggestion may try zero3
    n = count or (world_of(r) if world_of(r) > 1 else hw.count)
    rows = max(1, math.ceil(batch * mem.sequences_per_row))
    p = probed or probe(cfg, spec, hw.device, rows, seq, flops=bool(hw.flops))
    scale = rows * seq / p.tokens  # the probe may have run at another batch or length
    elem = 2 if hw.device == "cuda" and t.precision != "fp32" else 4
    grads = sum(math.prod(s) * e for _n, s, e in p.trainable_tensors)
    if strategy.startswith("zero"):  # DeepSpeed keeps fp32 optimizer states and fp32 master copies of 16-bit weights
        fp32 = [(name, shape, 4) for name, shape, _e in p.trainable_tensors]
        opt = optimizer_bytes(optim, t.optim_args, fp32, t.optim_target_modules)
        opt += sum(math.prod(s) * 4 for _n, s, e in p.trainable_tensors if e < 4)
    else:
        opt = optimizer_bytes(optim, t.optim_args, p.trainable_tensors, t.optim_target_modules)
    # what each GPU holds under the strategy, and what offload keeps in CPU memory instead (sharding.py)
    on_gpu, on_cpu = per_device(p.weights, grads, opt, strategy, r.offload, n, p.layer_weights)
    weights, grads, opt = on_gpu["weights"], on_gpu["gradients"], on_gpu["optimizer"]
    saved = ((p.saved_checkpointed + p.layer_saved) if ckpt else p.saved) * scale
    small = saved * p.saved_small / max(1, p.saved)
    tokens = rows * seq
    vocab_tiles = min(tokens, TOKEN_CHUNK) * min(p.vocab, VOCAB_CHUNK) * elem
    if mem.full_logits:
        head = 3 * tokens * p.vocab * 4
    else:
        head = CALIBRATION[f"head_tiles_{hw.device}"] * vocab_tiles + tokens * p.hidden * elem
    step = _step_peak(hw.device, saved, small, head, grads)
    activations = int(step - grads) + _autocast_copies(spec, hw.device, p)
    extra = extra_models(spec, mem, hw, p)
    overhead = int(CALIBRATION["cuda_context"] if hw.device == "cuda" else CALIBRATION["cpu_process"])
    parts = {"weights": weights, "gradients": grads, "optimizer": opt, "activations": activations,
             "extra_models": extra, "method_extra": p.method_extra, "overhead": overhead}
    total = sum(parts.values())
    verdict = "unknown" if not hw.memory else (
        "fits" if total <= TIGHT_AT * hw.memory else "tight" if total <= hw.memory else "too_big")
    details = {"model": spec.model.name, "params": p.total_params, "trainable": p.trainable,
               "batch": batch, "sequences": mem.sequences_per_row, "seq_len": seq, "checkpointing": ckpt,
               "optimizer": optim, "deepspeed": zero, "strategy": strategy, "offload": r.offload,
               "offloaded_per_rank": sum(on_cpu.values()), "devices": n, "device": hw.device,
               "flops_per_step": p.flops_step * scale * t.grad_accum, "probe": p}
    result = Estimate(parts, total, hw, verdict, [], details)
    _add_time(result, spec, plan, p, rows, ckpt)
    return result


def _autocast_copies(spec, device: str, p: Probe) -> int:
    """Mixed precision over fp32 weights: autocast casts every weight a matmul uses to 16 bits and the
    forward pass keeps those copies for backward (the probe runs in 16 bits, so it cannot see them).
    bench/memory.py: without this term LoRA on this CPU came out 9% low, QLoRA 21% low."""
    load, act = dtypes(spec, device)
    if act == load or act.itemsize >= load.itemsize:
        return 0
    return p.total_params * act.itemsize


def _step_peak(device: str, saved: float, small: float, head: float, grads: int) -> float:
    """Peak of a training step: activations kept for backward, the loss head's tiles, the gradients.

    Gradients are allocated while the backward pass frees activations, so they only partly add up.
    """
    c = CALIBRATION
    if device == "cpu":
        garbage = max(0.0, c["cpu_heap_garbage"] * small - c["cpu_grad_reuse"] * grads)
        return max(saved + head, grads) + garbage
    live = c["cuda_allocator"] * (saved + head)
    return max(live, grads) + c["cuda_grad_overlap"] * min(live, grads)


def extra_models(spec, mem, hw: Hardware, p: Probe) -> int:
    """Frozen reference/teacher/reward models and trained side models (a PPO value model)."""
    from .. import methods

    total = 0
    if mem.reference and methods.REGISTRY.get(spec.method).artifact != "adapter":
        total += p.weights
    for name in mem.frozen_models:
        total += p.weights if not name or name == spec.model.name else _weights_of(name, hw)
    for name in mem.trained_models:
        size = p.weights if not name or name == spec.model.name else _weights_of(name, hw)
        total += size * 4  # weights, gradients and two Adam states
    return total


def _weights_of(name: str, hw: Hardware) -> int:
    try:
        cfg, _source = model_config(name)
    except StudioError:
        return 0
    return int(shape_params({**REFERENCE_SHAPES["Qwen2.5-0.5B"], **cfg}) * (2 if hw.device == "cuda" else 4))


def _add_time(result: Estimate, spec, plan: dict, p: Probe, rows: int, ckpt: bool) -> None:
    hw = result.hardware
    if not hw.flops:
        return
    tokens = rows * plan["time_seq"]
    flops = (p.flops_step + (p.flops_forward if ckpt else 0)) * tokens / p.tokens
    gen = plan["memory"].generated_tokens
    if gen:  # decoding: one forward per new token, at a fraction of the matmul rate
        flops += 2 * p.total_params * rows * gen * 4
    efficiency = CALIBRATION["cpu_bf16_efficiency" if hw.bf16 else f"{hw.device}_efficiency"]
    rate = hw.flops * efficiency
    result.seconds_per_step = flops * spec.training.grad_accum / rate
    result.steps = plan["steps"]
    result.details["time_how"] = (f"{flops / 1e9:.0f} GFLOP per micro-batch from the meta pass at "
                                  f"{rate / 1e9:.0f} GFLOP/s: {hw.flops_how} × "
                                  f"{efficiency} measured training efficiency")


def _suggestions(spec, hw: Hardware, cfg: dict, plan: dict, current: Estimate) -> list[Suggestion]:
    """Changes that lower the estimate, each with its new total, best first."""
    t = spec.training
    p = current.details["probe"]
    tried: list[tuple[str, dict, Estimate]] = []

    def attempt(key, values, **change):
        tried.append((key, values, _assemble(spec, hw, cfg, plan, probed=p, **change)))

    if not t.gradient_checkpointing:
        attempt("sug_checkpointing", {}, checkpointing=True)
    if t.batch_size > 1:
        half = max(1, t.batch_size // 2)
        attempt("sug_batch", {"value": half}, batch=half)
        if half > 1:
            attempt("sug_batch", {"value": 1}, batch=1)
    if plan["seq"] > 256 and t.max_length > 256:
        attempt("sug_length", {"value": max(256, t.max_length // 2)}, seq=min(plan["seq"], max(256, t.max_length // 2)))
    if "8bit" not in t.optimizer and current.parts["optimizer"] > 0.1 * current.total:
        attempt("sug_optimizer", {"value": "paged_adamw_8bit"}, optimizer="paged_adamw_8bit")
    if hw.device == "cuda" and hw.count > 1 and spec.resources.strategy not in ("zero3", "fsdp"):
        attempt("sug_zero3", {}, deepspeed="zero3")
    tried += _quantised_alternatives(spec, hw, cfg, plan, current)
    out = [Suggestion(k, v, e.total, e.verdict == "fits") for k, v, e in tried if e.total < current.total]
    return sorted(out, key=lambda s: s.total)[:5]


def _quantised_alternatives(spec, hw, cfg, plan, current) -> list:
    """Methods of the registry that load the base quantised, when the current one does not."""
    from .. import methods

    here = methods.REGISTRY.get(spec.method)
    if here.load_kwargs(spec.method_config(), hw.device).get("quantization_config") is not None:
        return []
    out = []
    for m in methods.REGISTRY:
        try:
            q = m.load_kwargs(m.config(), hw.device).get("quantization_config")
        except StudioError:
            continue
        if q is None:
            continue
        alt = spec.model_copy(update={"method": m.name, "method_args": m.config().model_dump()})
        try:
            e = _assemble(alt, hw, cfg, plan)
        except Exception:  # noqa: BLE001 - an alternative that cannot be probed is not suggested
            continue
        bits = 4 if getattr(q, "load_in_4bit", False) else 8
        out.append(("sug_quantised", {"name": m.name, "bits": bits}, e))
    return out

