"""Training speed: the studio's defaults against the tools a user would pick instead, same work, same run.

The work is REFERENCE.md's: the embedded SmolLM2-135M-Instruct, 48 Alpaca rows, LoRA r=16 / alpha 32 on
all linear layers, batch 8, lr 5e-4, 20 steps, max length 256, seed 42. Every tool runs as a fresh
process, the tools INTERLEAVED (round 1: each tool once, round 2: each tool again, ...), so that load from
other work on the machine hits them alike; each reports its own `train_runtime`.

Tools:
- LLaMA-Factory 0.9.5, its defaults, and its fastest CPU flags (`bf16: true` +
  `disable_gradient_checkpointing: true`) -- only when `bench/peers.sh` has installed it into
  .peers/lf-venv (its own venv: it is not a project dependency);
- plain trl 1.16 `SFTTrainer`, its defaults (bench/trl_baseline.py);
- the studio, its defaults: exactly what `studio train --preset cpu-lora-sft` does, on the same rows:
  the default recipe's "keep general abilities" replay and its automatic validation split change the
  WORK (more rows, fewer rows), not the speed, so they are off here (`data.keep_general=false`,
  `data.val_size=0`); every speed setting is the preset's own.

Prints a table (tool, one column per round, median, final train loss) and, last, `ratio: X.XX` =
the fastest peer's median runtime / the studio's (above 1: the studio is faster).

    .venv/bin/python bench/train_speed.py [--steps 20] [--rounds 2] [--tools lf-fast,trl,studio]
    bash bench/peers.sh        # once, to add LLaMA-Factory to the comparison
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "assets" / "samples" / "identity_alpaca.jsonl"
LF_VENV = ROOT / ".peers" / "lf-venv"
LF_CLI = LF_VENV / "bin" / "llamafactory-cli"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

TOOLS = {  # name -> table label
    "lf-default": "LLaMA-Factory 0.9.5, its defaults",
    "lf-fast": "LLaMA-Factory 0.9.5, bf16 + no grad. ckpt",
    "trl": "plain trl 1.16 SFTTrainer, defaults",
    "studio": "Tune Studio, cpu-lora-sft defaults",
}
PEERS = ("lf-default", "lf-fast", "trl")


def _run(cmd: list[str], env: dict | None = None, what: str = "") -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{what} run failed ({' '.join(cmd[:3])} ...):\n{out.stderr[-3000:]}")
    return out


def run_trl(model_dir: Path, steps: int, tmp: Path) -> dict:
    out = _run([sys.executable, str(ROOT / "bench" / "trl_baseline.py"), str(model_dir), str(DATA),
                str(tmp / "trl"), str(steps)], dict(os.environ, **OFFLINE), "plain trl")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_studio(steps: int, tmp: Path, extra: list[str]) -> dict:
    env = dict(os.environ, STUDIO_WORKSPACE=str(tmp / "ws"), **OFFLINE)
    cmd = [sys.executable, "-m", "studio", "train", "--preset", "cpu-lora-sft", "--data", str(DATA),
           "--set", f"max_steps={steps}", "--set", "save_steps=1000", "--set", "data.keep_general=false",
           "--set", "data.val_size=0"] + [a for e in extra for a in ("--set", e)]
    out = _run(cmd, env, "studio")
    run_dir = Path(out.stdout.strip().splitlines()[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"train_runtime": summary["metrics"]["train_runtime"], "train_loss": summary["train_loss"]}


def lf_config(model_dir: Path, steps: int, data_dir: Path, out_dir: Path, fast: bool) -> str:
    """REFERENCE.md's LLaMA-Factory config; `fast` adds its fastest CPU flags."""
    lines = [f"model_name_or_path: {model_dir}", "stage: sft", "do_train: true", "finetuning_type: lora",
             "lora_rank: 16", "lora_alpha: 32", "lora_target: all", "dataset: identity", f"dataset_dir: {data_dir}",
             "template: smollm2", "cutoff_len: 256", "per_device_train_batch_size: 8",
             "gradient_accumulation_steps: 1", "learning_rate: 5.0e-4", f"max_steps: {steps}",
             "lr_scheduler_type: linear", "seed: 42", 'save_strategy: "no"', "report_to: none", "use_cpu: true",
             f"output_dir: {out_dir}", "overwrite_output_dir: true", "logging_steps: 1"]
    if fast:
        lines += ["bf16: true", "disable_gradient_checkpointing: true"]
    return "\n".join(lines) + "\n"


def run_lf(model_dir: Path, steps: int, tmp: Path, fast: bool) -> dict:
    data_dir = tmp / "lf-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA, data_dir / DATA.name)
    (data_dir / "dataset_info.json").write_text(json.dumps({"identity": {"file_name": DATA.name}}))
    out_dir = tmp / ("lf-fast" if fast else "lf-default")
    cfg = tmp / f"{out_dir.name}.yaml"
    cfg.write_text(lf_config(model_dir, steps, data_dir, out_dir, fast))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OFFLINE, DISABLE_VERSION_CHECK="1", PATH=f"{LF_VENV / 'bin'}:{env.get('PATH', '')}")
    _run([str(LF_CLI), "train", str(cfg)], env, "LLaMA-Factory")
    result = json.loads((out_dir / "train_results.json").read_text())
    return {"train_runtime": result["train_runtime"], "train_loss": result["train_loss"]}


def run_tool(tool: str, model_dir: Path, steps: int, tmp: Path, extra: list[str]) -> dict:
    if tool == "studio":
        return run_studio(steps, tmp, extra)
    if tool == "trl":
        return run_trl(model_dir, steps, tmp)
    return run_lf(model_dir, steps, tmp, fast=tool == "lf-fast")


def table(results: dict[str, list[dict]], rounds: int) -> list[str]:
    head = f"| {'tool':42s} | " + " | ".join(f"round {i + 1:d}" for i in range(rounds)) + " | median | final loss |"
    lines = [head, "|" + "---|" * (rounds + 3)]
    for tool, runs in results.items():
        times = " | ".join(f"{r['train_runtime']:6.1f} s" for r in runs)
        lines.append(f"| {TOOLS[tool]:42s} | {times} | {median(runs):6.1f} s | {runs[-1]['train_loss']:.4f} |")
    return lines


def median(runs: list[dict]) -> float:
    return statistics.median(r["train_runtime"] for r in runs)


def pick_tools(requested: str | None) -> list[str]:
    if requested:
        tools = [t.strip() for t in requested.split(",") if t.strip()]
        unknown = [t for t in tools if t not in TOOLS]
        if unknown:
            raise SystemExit(f"unknown tool(s) {unknown}; choose from {', '.join(TOOLS)}")
    else:
        tools = list(TOOLS)
    if any(t.startswith("lf-") for t in tools) and not LF_CLI.exists():
        print(f"LLaMA-Factory is not installed in {LF_VENV.relative_to(ROOT)}: comparing plain trl and the studio "
              "only. Run `bash bench/peers.sh` once to add it.", flush=True)
        tools = [t for t in tools if not t.startswith("lf-")]
    if "studio" not in tools:
        tools.append("studio")
    return tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", "--repeat", type=int, default=2, help="interleaved rounds (each tool once per round)")
    parser.add_argument("--tools", help=f"comma list out of {', '.join(TOOLS)} (default: all that are installed)")
    parser.add_argument("--set", dest="extra", action="append", default=[],
                        help="extra studio --set for the studio side (e.g. precision=fp32)")
    args = parser.parse_args()
    from studio.models import EMBEDDED, resolve

    model_dir = resolve(EMBEDDED).path
    tools = pick_tools(args.tools)
    results: dict[str, list[dict]] = {t: [] for t in tools}
    print(f"{len(os.sched_getaffinity(0))} cores, load average at start {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        for i in range(args.rounds):
            for tool in tools:
                r = run_tool(tool, model_dir, args.steps, Path(tmp_name) / f"r{i}", args.extra)
                results[tool].append(r)
                print(f"round {i + 1}: {tool:10s} {r['train_runtime']:7.1f} s  loss {r['train_loss']:.4f}  "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
    print("\n".join(table(results, args.rounds)))
    peers = [t for t in tools if t in PEERS]
    if peers:
        best = min(peers, key=lambda t: median(results[t]))
        print(f"best peer: {best}; load average at end {os.getloadavg()[0]:.1f}")
        print(f"ratio: {median(results[best]) / median(results['studio']):.2f}")


if __name__ == "__main__":
    main()
