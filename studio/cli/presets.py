"""`studio presets`: list the presets."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("presets", help="list the run presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..presets import list_presets
    from . import workspace_from

    presets = list_presets(workspace_from(args).root)
    if args.json:
        print(json.dumps([{"name": p.name, "hardware": p.hardware, "description": p.text("en"),
                           "path": str(p.path)} for p in presets], indent=2))
        return 0
    for p in presets:
        print(f"{p.name:28s} {p.hardware:10s} {p.text('en')}")
    return 0
