"""A diagnostic job kind (`sleep`): counts to N with a resumable checkpoint.

Used to check the queue, cancellation and restart recovery without loading a model
(`studio jobs` shows it like any other job). `spec = {"steps": N, "step_seconds": s}`.
"""

from __future__ import annotations

import json
import time

from ..atomic import write_json


def run_sleep(ctx) -> dict:
    steps = int(ctx.spec.get("steps", 10))
    pause = float(ctx.spec.get("step_seconds", 0.2))
    marker = ctx.run_dir / "counter.json"
    done = json.loads(marker.read_text())["done"] if marker.exists() else 0
    ctx.events.log(f"counting from {done} to {steps}")
    for i in range(done, steps):
        time.sleep(pause)
        write_json(marker, {"done": i + 1})
        ctx.progress((i + 1) / steps, f"step {i + 1}/{steps}", step=i + 1, total=steps)
    out = ctx.run_dir / "result.txt"
    out.write_text(f"counted to {steps}\n")
    return {"result": str(out)}
