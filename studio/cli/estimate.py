"""`studio estimate`: memory and time of a run before it starts, on this machine or on named hardware."""

from __future__ import annotations

import argparse
import json
import sys

from .train import add_run_arguments


def register(sub) -> None:
    p = sub.add_parser("estimate", help="memory and time estimate of RUN.yaml or a preset",
                       description="Estimate the peak memory (weights, gradients, optimizer states, activations, "
                                   "overhead) and the time of a run, and say whether it fits. Without "
                                   "--gpu-memory it uses this machine (or a preset's stated hardware).")
    add_run_arguments(p, name_help=argparse.SUPPRESS)
    p.add_argument("--gpu-memory", metavar="SIZE", help="estimate for GPUs of this size, e.g. 24GiB, 80GB")
    p.add_argument("--gpus", type=int, help="number of such GPUs (default: resources.num_gpus)")
    p.add_argument("--tflops", type=float, help="their bf16 TFLOP/s, for a time estimate")
    p.add_argument("--here", action="store_true", help="use this machine even when the preset names other hardware")
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def preset_hardware(preset_name: str | None, workspace_root) -> dict:
    """The `gpu_memory` / `gpus` a preset states for itself (empty for presets meant for this machine)."""
    if not preset_name:
        return {}
    from ..presets import get_preset
    from ..spec import load_yaml

    meta = load_yaml(get_preset(preset_name, workspace_root).path).get("preset") or {}
    return {k: meta[k] for k in ("gpu_memory", "gpus") if meta.get(k)}


def run(args) -> int:
    from ..estimate import estimate, named_hardware
    from ..spec import build_spec
    from . import workspace_from
    from .train import build_raw

    ws = workspace_from(args)
    raw, source = build_raw(args, ws.root)
    notes: list[str] = []
    spec = build_spec(raw, args.overrides, source=source, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    stated = {} if args.here else preset_hardware(args.preset, ws.root)
    memory = args.gpu_memory or stated.get("gpu_memory")
    hardware = None
    if memory:
        count = args.gpus or int(stated.get("gpus") or spec.resources.num_gpus)
        hardware = named_hardware(memory, count, "cuda", args.tflops)
    result = estimate(spec, ws.root, hardware)
    if args.json:
        out = result.to_dict()
        out["details"] = {k: v for k, v in out["details"].items() if k != "probe"}
        print(json.dumps(out, indent=2, default=str))
    else:
        print(result.report(args.lang))
    if result.verdict == "too_big":
        print("error: the run does not fit" + (" — see the suggestions above" if result.suggestions else ""),
              file=sys.stderr)
        return 3
    return 0
