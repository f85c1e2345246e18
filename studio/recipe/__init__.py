"""The default recipe: what a run does when the user only gives data.

`plan_run(data_path)` (the quick start) picks the preset from the machine, resolves the `auto` values
(studio/recipe/auto.py: steps, epochs, learning rate, validation split, replay ratio) from the data,
and says in one sentence what will happen. The train worker resolves the same way (`auto.resolve`).
"""

from __future__ import annotations

from .auto import AUTO, Resolved, has_auto, is_auto, resolve
from .plan import Plan, plan_run, preset_for_machine
from .rows import concrete, count_rows, resolve_for

__all__ = ["AUTO", "Plan", "Resolved", "concrete", "count_rows", "has_auto", "is_auto", "plan_run",
           "preset_for_machine", "resolve", "resolve_for"]
