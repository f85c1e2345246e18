"""`studio chat`: ask a model (optionally with an adapter) one question and print the answer.

    studio chat --prompt "Who are you?" [--engine vllm|transformers|auto] [--model M] [--adapter A]

Runs the engine in this process (vLLM starts its engine processes and stops them at the end); the
answer streams to stdout, then a line with time to first token and tokens per second.
"""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("chat", help="ask a model a question", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct", help="model name or folder")
    p.add_argument("--adapter", help="adapter folder (e.g. runs/NAME/adapter)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--system", help="system prompt")
    p.add_argument("--engine", default="transformers", choices=["auto", "vllm", "transformers"],
                   help="transformers (default: starts in seconds, best for one question); vllm starts in "
                        "20-60 s on a CPU, then answers faster; auto: vllm when it is installed and runs the model")
    p.add_argument("--template", help="chat template preset instead of the model's own (chatml, alpaca, llama3)")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--seed", type=int)
    p.set_defaults(func=run)


def run(args) -> int:
    import time
    from pathlib import Path

    from ..infer import Sampling
    from ..infer.serve import engine_options
    from ..infer.start import open_engine
    from ..models import resolve

    if args.adapter:
        from ..merge.artifacts import require

        require(args.adapter, "chat")
    adapters = {"adapter": str(Path(args.adapter).resolve())} if args.adapter else {}
    ref = resolve(args.model)
    sampling = Sampling(max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p,
                        top_k=args.top_k, repetition_penalty=args.repetition_penalty, seed=args.seed)
    serve_like = {"adapters": adapters, "chat_template": args.template}
    engine, fallback = open_engine(args.engine, str(ref.path), lambda name: engine_options(serve_like, name),
                                   adapters, log=lambda message: print(f"note: {message}", file=sys.stderr))
    if fallback == "not_installed":
        print("note: vLLM is not installed; the transformers engine answers", file=sys.stderr)
    try:
        messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
            [{"role": "user", "content": args.prompt}]
        start, first, pieces = time.perf_counter(), None, []
        for piece in engine.stream(messages, sampling, "adapter" if args.adapter else None):
            first = first or time.perf_counter() - start
            pieces.append(piece)
            print(piece, end="", flush=True)
        total = time.perf_counter() - start
        tokens = len(engine.tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
        print()
        rate = (tokens - 1) / (total - first) if first and tokens > 1 and total > first else 0.0
        print(f"[{engine.name} · {Path(args.model).name}{' + adapter' if args.adapter else ''} · first token "
              f"{(first or total):.2f}s · {tokens} tokens · {rate:.1f} tok/s]", file=sys.stderr)
    finally:
        engine.close()
    return 0
