"""The run the quick start proposes: `studio.recipe.plan_run`, the recipe engineer's API.

`plan_run(data_path, model=..., workspace_root=...)` returns an object with `.spec` (a RunSpec),
`.summary(lang)`, `.steps`, `.seconds` and `.held_out`. Until that module is merged this file keeps
a thin stand-in with the same contract (the CPU LoRA preset, steps from the row count) so the flow
works end to end; it is used only when `studio.recipe` cannot be imported.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ...i18n import text
from ...spec import DEFAULT_MODEL, RunSpec, build_spec


def default_model() -> str:
    """The quick start's model: STUDIO_DEFAULT_MODEL (e.g. tiny-random-llama for tests), else the embedded one."""
    return os.environ.get("STUDIO_DEFAULT_MODEL") or DEFAULT_MODEL


def plan(data_path: str, workspace_root, model: str | None = None):
    try:
        from ...recipe import plan_run
    except ImportError:
        planned = stand_in_plan(data_path, workspace_root, model or default_model())
    else:
        planned = plan_run(data_path, model=model or default_model(), workspace_root=workspace_root)
    return capped(planned)


def capped(planned):
    """STUDIO_QUICKSTART_MAX_STEPS=N caps the planned steps (tests and demos on a busy machine)."""
    cap = os.environ.get("STUDIO_QUICKSTART_MAX_STEPS", "")
    if not cap.isdigit() or int(cap) < 1 or 0 < planned.spec.training.max_steps <= int(cap):
        return planned
    raw = planned.spec.model_dump(mode="json")
    raw["training"]["max_steps"] = int(cap)
    raw["training"]["save_steps"] = min(raw["training"]["save_steps"], int(cap))
    planned.spec = build_spec(raw, source="quickstart")
    return planned


@dataclass
class StandInPlan:
    spec: RunSpec
    steps: int
    seconds: float | None
    held_out: list

    def summary(self, lang: str = "en") -> str:
        return text("quickstart.stand_in_summary", lang, steps=self.steps, r=self.spec.method_args.get("r", "?"),
                    minutes=max(1, round((self.seconds or 60) / 60)))


def stand_in_plan(data_path: str, workspace_root, model: str) -> StandInPlan:
    from ...data.prepare import _split, load_rows
    from ...presets import get_preset

    loaded = load_rows(data_path, workspace_root=workspace_root)
    rows = loaded.table.rows
    raw = get_preset("cpu-lora-sft", workspace_root).spec
    steps = max(10, min(60, math.ceil(3 * len(rows) / raw["training"]["batch_size"])))
    raw = dict(raw, model={"name": model}, data={"path": data_path, "val_size": 0.1})
    raw["training"] = dict(raw["training"], max_steps=steps, save_steps=max(5, steps // 2))
    spec = build_spec(raw, source="quickstart")
    _train, held = _split(rows, 0.1, spec.training.seed)
    return StandInPlan(spec, steps, steps * 3.0 if model == DEFAULT_MODEL else steps * 0.2, held)
