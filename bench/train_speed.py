"""Training speed: the studio's `cpu-lora-sft` preset against plain trl on the same work, same run.

The work is REFERENCE.md's: the embedded SmolLM2-135M-Instruct, 48 Alpaca rows, LoRA r=16 / alpha 32 on
all linear layers, batch 8, lr 5e-4, 20 steps, max length 256, seed 42. Both sides run as fresh
processes one after the other; each reports its own `train_runtime`. Prints a table and, last,
`ratio: X.XX` = plain trl runtime / studio runtime (above 1: the studio is faster).

    .venv/bin/python bench/train_speed.py [--steps 20] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "assets" / "samples" / "identity_alpaca.jsonl"


def run_baseline(model_dir: Path, steps: int, tmp: Path) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "trl_baseline.py"), str(model_dir), str(DATA),
                          str(tmp / "baseline"), str(steps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_studio(steps: int, tmp: Path, extra: list[str]) -> dict:
    env = dict(os.environ, STUDIO_WORKSPACE=str(tmp / "ws"))
    cmd = [sys.executable, "-m", "studio", "train", "--preset", "cpu-lora-sft", "--data", str(DATA),
           "--set", f"max_steps={steps}", "--set", "save_steps=1000"] + sum((["--set", e] for e in extra), [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"studio run failed:\n{out.stderr[-3000:]}")
    run_dir = Path(out.stdout.strip().splitlines()[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"train_runtime": summary["metrics"]["train_runtime"], "train_loss": summary["train_loss"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--set", dest="extra", action="append", default=[],
                        help="extra studio --set for the studio side (e.g. precision=bf16)")
    args = parser.parse_args()
    from studio.models import EMBEDDED, resolve

    model_dir = resolve(EMBEDDED).path
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for i in range(args.repeat):
            base = run_baseline(model_dir, args.steps, tmp / f"r{i}")
            mine = run_studio(args.steps, tmp / f"r{i}", args.extra)
            rows.append((base, mine))
            print(f"run {i + 1}: plain trl {base['train_runtime']:.1f} s (loss {base['train_loss']:.4f}) | "
                  f"studio {mine['train_runtime']:.1f} s (loss {mine['train_loss']:.4f})", flush=True)
    base_t = sum(b["train_runtime"] for b, _ in rows) / len(rows)
    mine_t = sum(m["train_runtime"] for _, m in rows) / len(rows)
    n = 8 * args.steps
    print(f"{'tool':28s} {'train runtime':>14s} {'samples/s':>10s}")
    print(f"{'plain trl 1.16 (defaults)':28s} {base_t:13.1f}s {n / base_t:10.2f}")
    print(f"{'Tune Studio cpu-lora-sft':28s} {mine_t:13.1f}s {n / mine_t:10.2f}")
    print(f"ratio: {base_t / mine_t:.2f}")


if __name__ == "__main__":
    main()
