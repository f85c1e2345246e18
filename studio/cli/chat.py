"""`studio chat`: ask a model (optionally with an adapter) one question and print the answer."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("chat", help="ask a model a question")
    p.add_argument("--model", default="smollm2-135m-instruct", help="model name or folder")
    p.add_argument("--adapter", help="adapter folder (e.g. runs/NAME/adapter)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--system", help="system prompt")
    p.add_argument("--engine", default="transformers", help="transformers or vllm")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import StudioError
    from ..infer import Sampling
    from ..infer.engines import build
    from ..models import resolve

    if args.adapter and not (Path(args.adapter) / "adapter_config.json").is_file():
        raise StudioError(f"{args.adapter} is not an adapter folder (no adapter_config.json)",
                          "pass the adapter/ folder of a finished run")
    ref = resolve(args.model)
    engine = build(args.engine, str(ref.path), {})
    if args.adapter:
        engine.add_adapter("adapter", str(Path(args.adapter).resolve()))
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
        [{"role": "user", "content": args.prompt}]
    out = engine.generate([messages], Sampling(max_tokens=args.max_tokens, temperature=args.temperature),
                          adapter="adapter" if args.adapter else None)
    print(out[0].text)
    engine.close()
    return 0
