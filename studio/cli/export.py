"""`studio export`: a tuned model to GGUF (llama.cpp / Ollama), checked by reading it back.

    studio export runs/NAME/adapter --format gguf --quant q8_0 -o my-model.q8_0.gguf
    studio export merged/NAME --quant f16

An adapter is merged onto its base first (the merge job's code). Beside the .gguf: an Ollama
`Modelfile`, a model card `README.md` and `export_report.json` with the read-back check.
"""

from __future__ import annotations


def register(sub) -> None:
    from ..export.gguf import QUANTS

    p = sub.add_parser("export", help="export a model or adapter to GGUF with an Ollama Modelfile and a model card",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="adapter folder, merged / full model folder, or model name")
    p.add_argument("--format", default="gguf", choices=["gguf"], help="export format (gguf)")
    p.add_argument("--quant", default="q8_0", help=f"GGUF type: {', '.join(QUANTS)} (default q8_0)")
    p.add_argument("-o", "--output", help="the .gguf file to write (default: <workspace>/exports/NAME-gguf/)")
    p.add_argument("--base", help="base model for an adapter (default: the one it names)")
    p.add_argument("--detach", action="store_true", help="queue the job and return at once")
    p.set_defaults(func=run)


def describe(report: dict) -> str:
    check = report["check"]
    lines = [f"{report['gguf']} ({report['bytes'] / 1e6:.1f} MB, {report['quant']})",
             f"Modelfile: {report['modelfile']}", f"model card: {report['readme']}"]
    for probe in check["vs_merged"]["probes"]:
        lines.append(f"  {'same' if probe['same_tokens'] else 'DIFF'}  {probe['prompt'][:40]!r}: {probe['gguf'][:60]!r}")
    stored = check.get("vs_merged_as_stored")
    if stored:
        lines.append(f"against the merged model rounded to {report['quant']}: same tokens "
                     f"{'yes' if stored['same_tokens'] else 'no'}, max logit diff {stored['max_abs_logit_diff']:.2e}")
    else:
        lines.append(f"max logit diff vs the merged model: {check['vs_merged']['max_abs_logit_diff']:.2e}")
    if check.get("note"):
        lines.append(f"note: {check['note']}")
    return "\n".join(lines)


def run(args) -> int:
    from pathlib import Path

    from ..export.runner import job_spec
    from ..jobs import JobManager
    from . import workspace_from
    from .follow import follow, read_artifact

    ws = workspace_from(args)
    spec = job_spec(args.source, args.format, args.quant, args.output, args.base)
    manager = JobManager(ws)
    job = manager.submit("export", spec, title=f"export · {Path(spec['source']).name} · {spec['quant']}")
    return follow(manager, job, lambda done: print(describe(read_artifact(done, "report"))), detach=args.detach)
