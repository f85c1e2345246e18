"""The `studio` command: the same functions as the UI, over the same workspace and job manager.

Each sub-command lives in its own module here with `register(subparsers)`; adding a command is
adding a module to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import StudioError

COMMANDS = ["train", "jobs", "chat", "presets", "data", "estimate", "merge", "eval", "serve", "probe", "export",
            "tensorboard"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="Tune Studio: fine-tune language models.")
    parser.add_argument("--workspace", help="workspace folder (default: $STUDIO_WORKSPACE or ~/tune-studio)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.register(sub)
    return parser


def workspace_from(args):
    from ..workspace import Workspace

    if getattr(args, "workspace", None):
        os.environ["STUDIO_WORKSPACE"] = str(args.workspace)
    return Workspace.open(getattr(args, "workspace", None))


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except StudioError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


def run() -> None:
    sys.exit(main())
