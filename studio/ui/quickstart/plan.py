"""The run the quick start proposes: `studio.recipe.plan_run` (preset from the machine, steps and the
rest decided from the data), with the launch settings below applied as overrides.

- STUDIO_DEFAULT_MODEL: the quick start's model (default: the embedded SmolLM2-135M-Instruct);
  e.g. `tiny-random-llama` for tests and demos.
- STUDIO_QUICKSTART_SET: `key=value` overrides of the planned spec, separated by spaces, as
  `studio train --set` takes them; e.g. "training.max_steps=3 data.keep_general=false".

"Advanced" hands the planned run to the full forms on the `recipe.planned` channel (`PLANNED_CHANNEL`):
the Method page fills model, method and stage from it, the Train page data, training and resources.
"""

from __future__ import annotations

import os
import shlex

from ...spec import DEFAULT_MODEL

PLANNED_CHANNEL = "recipe.planned"


def default_model() -> str:
    return os.environ.get("STUDIO_DEFAULT_MODEL") or DEFAULT_MODEL


def overrides() -> list[str]:
    return shlex.split(os.environ.get("STUDIO_QUICKSTART_SET", ""))


def plan(data_path: str, workspace_root, model: str | None = None, extra: list[str] | None = None):
    """The recipe's Plan (`.spec`, `.summary(lang)`, `.steps`, `.seconds`, `.held_out`)."""
    from ...recipe import plan_run

    return plan_run(data_path, model=model or default_model(), workspace_root=workspace_root,
                    overrides=overrides() + list(extra or []))


def form_values(planned) -> dict:
    """The planned spec as the full forms show it: the training numbers decided from the data (steps,
    epochs, learning rate) as numbers, so that an expert sees and edits what would run."""
    raw = planned.spec.model_dump(mode="json")
    decided = planned.resolved.to_dict()
    for dotted in planned.resolved.auto:
        section, _, name = dotted.partition(".")
        if section == "training" and name in decided:
            raw[section][name] = decided[name]
    return raw
