"""`studio serve`: serve a model (+ adapters) as an OpenAI-compatible endpoint until Ctrl-C.

    studio serve [--model M] [--adapter NAME=FOLDER ...] [--engine auto|vllm|transformers]
    studio serve SERVE.yaml [--set engine=transformers]   (keys: studio/infer/spec.py)

Runs as a serve job (the same the Chat tab starts), prints the URL and where the bearer token is
(server.json, readable only by you); Ctrl-C cancels the job, which stops every engine process.
"""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve a model as an OpenAI-compatible endpoint",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("spec", nargs="?", help="SERVE.yaml (instead of the flags below)")
    p.add_argument("--model", default="smollm2-135m-instruct", help="model name or folder")
    p.add_argument("--adapter", action="append", default=[], metavar="NAME=FOLDER",
                   help="an adapter to serve as model NAME (repeatable)")
    p.add_argument("--engine", default="auto", choices=["auto", "vllm", "transformers"])
    p.add_argument("--template", help="chat template preset instead of the model's own")
    p.add_argument("--max-model-len", type=int, help="longest prompt + answer (vLLM)")
    p.add_argument("--detach", action="store_true", help="start the job and return (stop it with studio jobs cancel)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the serve spec (model, engine, chat_template, options.max_model_len, ...)")
    p.set_defaults(func=run)


def parse_adapters(items: list[str]) -> dict[str, str]:
    from pathlib import Path

    from ..errors import StudioError
    from ..infer.compare import adapter_names

    named: dict[str, str] = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep:
            named.update(adapter_names([str(Path(item).expanduser().resolve())]))
            continue
        if not name or not folder:
            raise StudioError(key="spec.adapter_not_pair", item=repr(item))
        named[name] = str(Path(folder).expanduser().resolve())
    return named


def build_spec(args):
    """The serve spec from SERVE.yaml or the flags, through the builder the Chat tab uses."""
    from ..infer.spec import ServeSpec, serve_spec
    from ..spec import build_typed, load_yaml

    if args.spec:
        spec = build_typed(ServeSpec, load_yaml(args.spec), args.overrides, args.spec, "serve")
        return serve_spec(**spec.model_dump(mode="json"))  # folders made absolute for the worker
    options = {"max_model_len": args.max_model_len} if args.max_model_len else {}
    return serve_spec(args.model, parse_adapters(args.adapter), args.engine, args.template, options, args.overrides)


def run(args) -> int:
    import time
    from pathlib import Path

    from ..infer.serve import server_info
    from ..jobs import JobManager
    from ..jobs.events import read_progress
    from . import workspace_from
    from .follow import announce, failed

    ws = workspace_from(args)
    manager = JobManager(ws)
    spec = build_spec(args)
    model = spec.model
    job = manager.submit("serve", spec.model_dump(mode="json"), title=f"serve · {Path(model).name}")
    announce(job)
    last = ""
    try:
        while True:
            manager.tick()
            job = manager.get(job.id)
            info = server_info(job.run_dir)
            if info:
                print(f"{info['engine']} serving {Path(info['model']).name} at {info['url']} "
                      f"(models: base{''.join(', ' + a for a in info['adapters'])})")
                print(f"bearer token: in {Path(job.run_dir) / 'server.json'}", flush=True)
                break
            if job.state not in ("queued", "running"):
                return failed(job)
            message = read_progress(job.run_dir).get("message", "")
            if message and message != last:
                print(message, file=sys.stderr, flush=True)
                last = message
            time.sleep(1.0)
        if args.detach:
            return 0
        while manager.get(job.id).state == "running":
            time.sleep(1.0)
        return 0
    except KeyboardInterrupt:
        print("stopping…", file=sys.stderr)
        manager.cancel(job.id, wait=True)
        return 130
