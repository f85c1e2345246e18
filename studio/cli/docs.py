"""`studio data from-docs FILES… -o OUT.jsonl`: question–answer rows from documents (a `docs` job).

Registered under `studio data` (studio/cli/data.py calls `register`). Documents that cannot be read
are reported, one line each, and the others are processed; the kept rows (alpaca rows with
`source`, `page` and `heading`) are written to OUT.jsonl.
"""

from __future__ import annotations

import os
import sys


def register(data) -> None:
    p = data.add_parser("from-docs", help="turn documents (PDF, DOCX, PPTX, HTML, Markdown, TXT) into Q&A rows",
                        description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="documents")
    p.add_argument("-o", "--output", required=True, help="output .jsonl file (written atomically)")
    p.add_argument("--teacher", default="embedded", choices=["embedded", "local", "endpoint"],
                   help="who writes the questions and answers (default: the embedded model)")
    p.add_argument("--model", help="local model name/folder, or the endpoint's model name")
    p.add_argument("--url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key-env", default="STUDIO_TEACHER_API_KEY",
                   help="environment variable holding the endpoint's API key")
    p.add_argument("--questions", type=int, default=2, help="questions per passage (default 2)")
    p.add_argument("--chunk-chars", type=int, default=1500, help="longest passage in characters")
    p.add_argument("--max-chunks", type=int, default=0, help="use at most this many passages (0: all)")
    p.add_argument("--max-tokens", type=int, default=256, help="longest teacher answer in tokens")
    p.add_argument("--min-support", type=float, default=0.6,
                   help="drop answers with less than this share of their words in the passage")
    p.add_argument("--detach", action="store_true", help="queue the job and return at once")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..data.docs import config_from
    from ..errors import StudioError
    from ..jobs import JobManager
    from . import workspace_from
    from .follow import follow

    cfg = config_from(args.files, args.teacher, args.model, args.url, args.questions, args.chunk_chars,
                       args.max_chunks, args.min_support)
    out = Path(args.output)
    if out.suffix != ".jsonl":
        raise StudioError(key="docs.output_name", path=str(out))
    secrets = {}
    if cfg.teacher.kind == "endpoint":
        secrets["api_key"] = os.environ.get(args.api_key_env, "")
    manager = JobManager(workspace_from(args))
    names = ", ".join(Path(f).name for f in cfg.files[:3]) + ("…" if len(cfg.files) > 3 else "")
    cfg = cfg.model_copy(update={"max_tokens": args.max_tokens})
    job = manager.submit("docs", cfg.model_dump(mode="json"), title=f"Q&A from {names}", secrets=secrets)
    return follow(manager, job, lambda done: write_rows(done, out), detach=args.detach, before=warn,
                  raise_failure=True, run_dir_on_detach=True)


def warn(job) -> None:
    """One line per document that could not be read, whether the job succeeded or not."""
    from .. import i18n
    from ..data.docs import problems

    for line in problems(job.run_dir, i18n.default_lang()):
        print(f"warning: {line}", file=sys.stderr)


def write_rows(job, out) -> None:
    """The kept rows copied to OUT.jsonl, with the counts (stderr) and the file's path (stdout)."""
    from pathlib import Path

    from ..atomic import read_jsonl, write_jsonl
    from ..data.docs import summary
    from ..jobs.events import read_progress

    rows = read_jsonl(Path(job.artifacts["output"]))
    write_jsonl(out, rows)
    print(summary(read_progress(job.run_dir).get("counts") or {}), file=sys.stderr)
    print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)
    print(out)
