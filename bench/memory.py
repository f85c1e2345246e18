"""Memory estimate vs measured peak, per method, on this machine.

For each method, `studio.estimate` predicts the peak memory of a short SFT run on the embedded
SmolLM2-135M; then the real training recipe (`studio.train.runner.train`, what a job worker runs) trains
that spec in a child process and the peak is measured:

- CPU: the child's peak resident set size from the kernel (`os.wait4` -> `ru_maxrss`), nothing
  subtracted: interpreter, libraries, tokenizer, data, model, optimizer and activations are all in it,
  and all are in the estimate.
- CUDA: `torch.cuda.max_memory_allocated()` plus the memory the process held on the GPU before the
  model (the CUDA context), read with `torch.cuda.mem_get_info`.

Prints a table with estimate / measured per method, the mean ratio, and last the worst-case ratio
(the one furthest from 1.0) as `ratio: X.XX`. Also compares the time estimate with the measured
seconds per step (this machine is shared, so time is noisier than memory).

    .venv/bin/python bench/memory.py [--methods lora,qlora,full] [--steps 4] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STUDIO_CACHE", str(ROOT / ".studio-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = ROOT / "assets" / "samples" / "identity_alpaca.jsonl"
DEFAULT_METHODS = ("lora", "qlora", "dora", "full", "prefix_tuning", "ia3", "bitfit")


def bench_spec(method: str, steps: int, batch: int, model: str = "smollm2-135m-instruct",
               max_length: int = 256) -> dict:
    return {"model": {"name": model}, "data": {"path": str(DATA)}, "method": method, "stage": "sft",
            "training": {"max_steps": steps, "batch_size": batch, "max_length": max_length,
                         "learning_rate": 5e-4, "save_steps": 1000, "logging_steps": 1}}


def child(spec_json: str, workspace: str, out: str) -> None:
    """Run the training recipe once (as a job worker does) and report what only the child can see."""
    import torch

    from studio.jobs.context import JobContext
    from studio.jobs.events import Events
    from studio.jobs.store import Job
    from studio.spec import build_spec
    from studio.train.runner import train
    from studio.workspace import Workspace

    context = 0
    if torch.cuda.is_available():
        torch.cuda.init()
        torch.zeros(1, device="cuda")
        free, total = torch.cuda.mem_get_info()
        context = total - free
    ws = Workspace.open(workspace)
    run_dir = ws.new_run_dir("bench", "run")
    now = time.time()
    job = Job(id="bench", kind="train", spec=json.loads(spec_json), state="running", pool="compute",
              run_dir=str(run_dir), created_at=now, updated_at=now)
    train(build_spec(json.loads(spec_json)), JobContext(job=job, workspace=ws, events=Events(run_dir)))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    times = [r["time"] for r in rows if "loss" in r]
    steps = [t2 - t1 for t1, t2 in zip(times, times[1:])]
    report = {"cuda_peak": (torch.cuda.max_memory_allocated() + context) if torch.cuda.is_available() else None,
              "seconds_per_step": sorted(steps)[len(steps) // 2] if steps else None}
    Path(out).write_text(json.dumps(report))


def measure(spec: dict) -> dict:
    """Train `spec` in a child process; its peak RSS (bytes), CUDA peak and median seconds per step."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec), str(Path(tmp) / "ws"),
                                 str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read()
        if status != 0 or not out.is_file():
            raise RuntimeError(f"training failed ({status}): {err[-2000:]}")
        report = json.loads(out.read_text())
    report["peak_rss"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return report


def estimate_for(spec: dict):
    from studio.estimate import estimate
    from studio.spec import build_spec

    return estimate(build_spec(spec))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    from studio import methods

    names = [m for m in args.methods.split(",") if m in methods.REGISTRY]
    print(f"{'method':<15}{'estimate':>11}{'measured':>11}{'ratio':>7}   {'est s/step':>10}{'meas s/step':>12}",
          flush=True)
    ratios = []
    for name in names:
        spec = bench_spec(name, args.steps, args.batch)
        est = estimate_for(spec)
        got = measure(spec)
        cuda = est.hardware.device == "cuda"
        measured = got["cuda_peak"] if cuda else got["peak_rss"]
        ratio = est.total / measured
        ratios.append(ratio)
        sps = got.get("seconds_per_step")
        print(f"{name:<15}{est.total / 2**30:>9.2f}Gi{measured / 2**30:>9.2f}Gi{ratio:>7.2f}   "
              f"{(est.seconds_per_step or 0):>10.1f}{(sps or 0):>12.1f}", flush=True)
    if not ratios:
        print("no method to measure")
        return 1
    what = "GPU memory (max_memory_allocated + context)" if cuda else "peak RSS of the training process"
    worst = max(ratios, key=lambda r: abs(r - 1))
    print(f"{len(ratios)} methods, {what}; mean estimate/measured {sum(ratios) / len(ratios):.2f}; "
          f"worst case (furthest from 1.0) below")
    print(f"ratio: {worst:.2f}")
    return 0 if all(0.8 <= r <= 1.2 for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
