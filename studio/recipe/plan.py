"""`plan_run`: data in, a ready run spec and one sentence out (what the quick start shows and submits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StudioError
from ..i18n import text
from ..spec import DEFAULT_MODEL, RunSpec, build_spec
from .auto import Resolved, resolve
from .rows import count_rows, held_out_rows

CPU_PRESET, GPU_PRESET = "cpu-lora-sft", "gpu-lora-sft"
MIN_ROWS = 4
SECONDS_PER_REPLAY_ANSWER = {"cpu": 0.5, "cuda": 0.05}  # greedy, bounded answers of a small model, batched
ENGINE_START_S = {"cpu": 40.0, "cuda": 60.0}  # starting the inference engine for the first run's answers


@dataclass
class Plan:
    """A run the studio would start for `data_path`, and what it will cost."""

    spec: RunSpec  # auto values left as `auto`: the train job resolves them the same way and records them
    resolved: Resolved
    preset: str
    device: str
    seconds: float | None  # training (+ first-time replay answers) time estimate; None when unknown
    held_out: list[dict] = field(default_factory=list)  # [{"prompt": str, "reference": str}] the run will hold out

    @property
    def steps(self) -> int:
        return self.resolved.max_steps

    @property
    def rows(self) -> int:
        return self.resolved.rows

    def summary(self, lang: str = "en") -> str:
        """One sentence: "about 3 minutes on this CPU; 40 steps; LoRA r16"."""
        where = text(f"recipe.where_{self.device}", lang)
        if self.seconds is None:
            time_part = text("recipe.time_unknown", lang, where=where)
        elif self.seconds < 90:
            time_part = text("recipe.about_seconds", lang, n=max(5, int(round(self.seconds / 5) * 5)), where=where)
        else:
            time_part = text("recipe.about_minutes", lang, n=max(2, round(self.seconds / 60)), where=where)
        return text("recipe.summary", lang, time=time_part, steps=self.steps, method=method_label(self.spec, lang))


def method_label(spec: RunSpec, lang: str = "en") -> str:
    names = {"lora": "LoRA", "qlora": "QLoRA", "dora": "DoRA", "full": text("recipe.full_ft", lang)}
    label = names.get(spec.method, spec.method)
    rank = spec.method_args.get("r")
    return f"{label} r{rank}" if isinstance(rank, int) and spec.method != "full" else label


def preset_for_machine() -> tuple[str, str]:
    """(preset name, device): the GPU preset when CUDA is visible, else the CPU one."""
    import torch

    return (GPU_PRESET, "cuda") if torch.cuda.is_available() else (CPU_PRESET, "cpu")


def plan_run(data_path: str, model: str = DEFAULT_MODEL, workspace_root: Path | None = None,
             overrides: list[str] | tuple[str, ...] | dict | None = None) -> Plan:
    """The default recipe for `data_path`: preset from the machine, `auto` values resolved from the data.

    `overrides`: `key=value` strings (as `studio train --set`) or a dict of them; an explicit value wins
    over `auto`. Raises StudioError (key recipe.too_few_rows) when the data is too small to train on.
    """
    from ..presets import get_preset

    preset, device = preset_for_machine()
    raw = get_preset(preset, workspace_root).spec
    raw.setdefault("model", {})["name"] = model
    raw.setdefault("data", {})["path"] = str(data_path)
    items = [f"{k}={v}" for k, v in overrides.items()] if isinstance(overrides, dict) else list(overrides or [])
    spec = build_spec(raw, items, source=f"preset {preset}")
    rows, saved_rows, all_rows = count_rows(spec, workspace_root)
    if rows < MIN_ROWS:
        raise StudioError(key="recipe.too_few_rows", rows=rows, need=MIN_ROWS)
    from ..replay.prompts import available_for_mix

    concrete, resolved = resolve(spec, rows, available_for_mix(), saved_rows)
    held = held_out_rows(concrete, all_rows) if saved_rows is None else []
    return Plan(spec=spec, resolved=resolved, preset=preset, device=device,
                seconds=_seconds(concrete, resolved, workspace_root, device), held_out=held)


def _seconds(concrete: RunSpec, resolved: Resolved, workspace_root: Path | None, device: str) -> float | None:
    """Training time from the estimate module, plus the replay answers not cached yet."""
    try:
        from ..estimate import estimate

        est = estimate(concrete, workspace_root, suggest=False)
    except Exception:  # noqa: BLE001 - no estimate only means no time in the sentence
        return None
    if est.seconds_per_step is None:
        return None
    seconds = est.seconds_per_step * resolved.max_steps
    if concrete.data.keep_general and resolved.replay_rows:
        from ..replay.cache import missing_count

        missing = missing_count(concrete.model, resolved.replay_rows)
        if missing:
            seconds += ENGINE_START_S.get(device, 40.0) + SECONDS_PER_REPLAY_ANSWER.get(device, 0.5) * missing
    return seconds
