"""`studio data check|convert|self-instruct`: the Data tab's functions from a terminal."""

from __future__ import annotations

import json
import os
import sys


def register(sub) -> None:
    p = sub.add_parser("data", help="check, convert and generate training data")
    data = p.add_subparsers(dest="action", metavar="ACTION")
    data.required = True

    check = data.add_parser("check", help="check a data file; exit 0 if valid, 1 with findings",
                            description="Read FILE, detect or use --format, apply --map, and print one line per "
                                        "finding (file, line, row, field: problem — what to do).")
    check.add_argument("file", help="data file, folder (folder#name) or saved dataset name[@vN]")
    check.add_argument("--format", default="auto", help="alpaca, sharegpt, messages, preference, kto, prompt, "
                                                       "completion, text (default: detect)")
    check.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                       help="rename a column to a schema field, e.g. --map question=instruction")
    check.add_argument("--model", help="also measure token lengths with this model's tokenizer")
    check.add_argument("--max-length", type=int, default=1024, help="token limit to report (with --model)")
    check.add_argument("--stage", default="sft", help="the stage the data is for (sets what is measured)")
    check.add_argument("--chat-template", help="named template for a model without one (chatml, alpaca, llama3)")
    check.add_argument("--json", action="store_true", help="print a JSON report instead")
    check.set_defaults(func=run_check)

    conv = data.add_parser("convert", help="convert a data file to another format (JSONL)")
    conv.add_argument("file")
    conv.add_argument("--to", required=True, dest="target", metavar="FORMAT",
                      help="alpaca, sharegpt, messages, preference, kto, prompt, completion, text")
    conv.add_argument("-o", "--output", required=True, help="output .jsonl file (written atomically)")
    conv.add_argument("--format", default="auto")
    conv.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD")
    conv.set_defaults(func=run_convert)

    gen = data.add_parser("self-instruct", help="generate new instruction rows from seed tasks (a job)",
                          description="Submit a Self-Instruct job from CONFIG.yaml and follow it. Keys: seed_path, "
                                      "num_instructions, max_requests, examples_per_prompt, new_per_prompt, "
                                      "batch_size, temperature, top_p, max_tokens, seed, teacher {kind: embedded|"
                                      "local|endpoint, model, url, api_key_env}, filters {rouge_threshold, "
                                      "min_words, max_words, blacklist, min_output_words}, preference {enabled, "
                                      "judge: rule|teacher, temperature}. An endpoint's API key is read from the "
                                      "environment variable named by teacher.api_key_env, never from the file.")
    gen.add_argument("config", help="CONFIG.yaml")
    gen.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a key of the config (num_instructions=50, teacher.model=..., ...)")
    gen.add_argument("--detach", action="store_true", help="queue the job and return at once")
    gen.set_defaults(func=run_self_instruct)
    register_from_docs(data)


def run_check(args) -> int:
    from ..data import checks, mapping, prepare
    from ..data.findings import DataError, Finding
    from ..errors import StudioError

    ws = _workspace(args)
    columns = mapping.parse(args.map)
    try:
        loaded = prepare.load_rows(args.file, args.format, columns, ws.root)
    except DataError as exc:
        return _report(args, exc.findings, {"file": args.file, "valid": False})
    except StudioError as exc:  # not a row problem (unknown format, missing file): still a finding
        return _report(args, [Finding.from_error(exc, file=args.file)], {"file": args.file, "valid": False})
    findings = list(loaded.warnings)
    table = loaded.table
    report = {"file": table.file, "format": loaded.format, "rows": len(table.rows), "encoding": table.encoding,
              "columns": table.columns}
    if args.model:
        from .. import stages
        from ..data.preview import load_tokenizer
        from ..data.stats import length_summary

        target = stages.REGISTRY.get(args.stage).data_target
        rows = prepare.convert_all(loaded, target)
        tok = load_tokenizer(args.model, args.chat_template)
        long_rows, lengths = checks.length_findings(table, rows, target, tok, args.max_length)
        findings += long_rows
        report["tokens"] = length_summary(lengths, args.max_length)
    report["valid"] = not any(f.severity == "error" for f in findings)
    return _report(args, findings, report)


def _report(args, findings, report: dict) -> int:
    from ..data.findings import group_repeated

    findings = group_repeated(findings)  # a million duplicate rows are one line, not a million
    if args.json:
        report["findings"] = [f.to_dict() for f in findings]
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        from ..i18n import default_lang, text

        lang = default_lang()
        for f in findings:
            print(f"{text(f'data_findings.severity_{f.severity}', lang)}: {f.one_line(lang)}")
        if "rows" in report:
            print(_summary(report, findings, lang), file=sys.stderr)
    return 1 if any(f.severity != "info" for f in findings) else 0


def _summary(report: dict, findings: list, lang: str) -> str:
    """One line after the findings: rows, format, token lengths, how many problems (in `lang`)."""
    from ..i18n import text

    line = text("data_findings.check_summary", lang, file=report["file"], rows=report["rows"], format=report["format"])
    t = report.get("tokens") or {}
    if t.get("rows"):
        line += text("data_findings.check_tokens", lang, min=t["min"], p50=t["p50"], max=t["max"])
    real = sum(f.severity != "info" for f in findings)
    return line + (text("data_findings.check_count", lang, n=real) if real else text("data_findings.check_clean", lang))


def run_convert(args) -> int:
    from pathlib import Path

    from ..data import mapping
    from ..data.convert import convert_file

    ws = _workspace(args)
    out, count = convert_file(args.file, args.target, Path(args.output), args.format, mapping.parse(args.map),
                              ws.root)
    print(out)
    from ..i18n import default_lang, text

    print(text("data_convert.wrote", default_lang(), count=count, target=args.target), file=sys.stderr)
    return 0


def run_self_instruct(args) -> int:
    from ..data.self_instruct import SelfInstructConfig
    from ..jobs import JobManager
    from ..spec import load_yaml
    from .follow import follow

    ws = _workspace(args)
    cfg = SelfInstructConfig.parse(load_yaml(args.config), args.config, args.overrides)
    secrets = {}
    if cfg.teacher.kind == "endpoint":
        key = os.environ.get(cfg.teacher.api_key_env, "")
        if not key:
            print(f"note: ${cfg.teacher.api_key_env} is empty; calling {cfg.teacher.url} without an API key",
                  file=sys.stderr)
        secrets["api_key"] = key
    if cfg.seed_path and not os.path.isabs(cfg.seed_path) and os.path.exists(cfg.seed_path):
        cfg = cfg.model_copy(update={"seed_path": os.path.abspath(cfg.seed_path)})
    from ..data.self_instruct import load_seeds

    load_seeds(cfg.seed_path, ws.root)  # fail here, not in the worker, when the seeds are unusable
    manager = JobManager(ws)
    job = manager.submit("generate", cfg.model_dump(mode="json"), title=f"Self-Instruct · {cfg.teacher.model}",
                         secrets=secrets)
    return follow(manager, job, lambda done: print(done.artifacts.get("output")), detach=args.detach,
                  before=_counts, raise_failure=True, run_dir_on_detach=True)


def _counts(job) -> None:
    """What the teacher's requests gave (kept, duplicates, ...), whether the job succeeded or not."""
    from ..data.self_instruct import summary
    from ..jobs.events import read_progress

    print(summary(read_progress(job.run_dir).get("counts") or {}), file=sys.stderr)


def register_from_docs(data) -> None:
    from .docs import register

    register(data)


def _workspace(args):
    from . import workspace_from

    return workspace_from(args)
