"""README.md names only things that exist: project paths, `studio` sub-commands and command-line flags.

Fails when the README drifts from the code (issue 11 item 8): a path under studio/, bench/, tests/,
presets/, scripts/, assets/ or .ci/ that is not in the tree, a `studio <command>` the CLI does not
have, or a `--flag` that neither `launch.py` nor any `studio` command accepts.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PREFIXES = ("studio/", "bench/", "tests/", "presets/", "scripts/", "assets/", ".ci/")
# flags of other programs the README shows in examples (pytest, make, pip, vllm ...)
FOREIGN_FLAGS = {"--help", "--strict-markers", "--extra-index-url", "--index-url", "--upgrade", "--no-deps", "-m",
                 "--headless", "--no-sandbox", "--frozen"}


def _expand(path: str) -> list[str]:
    """`studio/ui/locales/{en,zh}/` -> both; other shell-like patterns stay globs."""
    match = re.search(r"\{([^{}]+)\}", path)
    if not match:
        return [path]
    return [p for alt in match.group(1).split(",")
            for p in _expand(path[:match.start()] + alt + path[match.end():])]


def named_paths() -> list[str]:
    found = set()
    for token in re.findall(r"(?<![\w./~-])((?:%s)[\w./{},*-]*)" % "|".join(re.escape(p) for p in PREFIXES), README):
        token = token.rstrip(".,;:)")
        if token.startswith("studio/") and token.count("/") == 0:
            continue
        found.update(_expand(token))
    return sorted(found)


def exists(path: str) -> bool:
    if "*" in path or "NAME" in path or "<" in path:
        pattern = re.sub(r"NAME|<[^>]+>", "*", path)
        return any(ROOT.glob(pattern.rstrip("/")))
    return (ROOT / path).exists()


def test_every_path_the_readme_names_exists():
    missing = [p for p in named_paths() if not exists(p)]
    assert named_paths(), "the README names no paths: the pattern is broken"
    assert not missing, f"README.md names paths that do not exist: {missing}"


def _cli():
    from studio.cli import _parser

    return _parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public way to list sub-commands
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def test_every_studio_command_the_readme_names_exists():
    commands = _subparsers(_cli())
    code = re.findall(r"```.*?```", README, flags=re.S) + re.findall(r"`[^`\n]+`", README)
    code = [re.sub(r"\s#.*", "", block) for block in code]  # comments in examples are prose
    named = [m for block in code for m in
             re.findall(r"(?:^|(?<=[\s`(/]))(?<!make )studio ([a-z][a-z-]+)(?: ([a-z][a-z-]+))?", block, flags=re.M)]
    assert named, "the README names no studio commands: the pattern is broken"
    unknown = []
    for first, second in named:
        if first not in commands:
            unknown.append(first)
        elif second and _subparsers(commands[first]) and second not in _subparsers(commands[first]) \
                and not second.startswith("-"):
            unknown.append(f"{first} {second}")
    assert not unknown, f"README.md names studio commands that do not exist: {sorted(set(unknown))}"


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    out = {s for a in parser._actions for s in a.option_strings}  # noqa: SLF001
    for sub in _subparsers(parser).values():
        out |= _flags(sub)
    return out


def _bench_flags() -> set[str]:
    """Flags the benchmark scripts declare (`bench/*.py`: `add_argument("--minutes", ...)`)."""
    found: set[str] = set()
    for script in (ROOT / "bench").glob("*.py"):
        for call in re.findall(r"add_argument\(([^)]*)", script.read_text(encoding="utf-8")):
            found |= set(re.findall(r"[\"'](--[a-z][a-z0-9-]*)[\"']", call))
    return found


def test_every_flag_the_readme_names_exists():
    from studio.ui.launch import parse_args  # noqa: F401 - the launch parser is built inside parse_args

    import studio.ui.launch as launch

    known = _flags(_cli()) | FOREIGN_FLAGS
    launch_parser = None
    original = argparse.ArgumentParser.parse_args

    def grab(self, *args, **kwargs):
        nonlocal launch_parser
        launch_parser = self
        return original(self, [])

    argparse.ArgumentParser.parse_args = grab
    try:
        launch.parse_args([])
    finally:
        argparse.ArgumentParser.parse_args = original
    known |= _flags(launch_parser) | _bench_flags()
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", README))
    unknown = sorted(named - known)
    assert not unknown, f"README.md names flags that no command accepts: {unknown}"


def test_the_checks_can_fail():
    assert not exists("studio/no_such_module.py") and exists("studio/spec.py")
    assert "nope" not in _subparsers(_cli()) and "train" in _subparsers(_cli())
    assert list(itertools.islice(_expand("a/{x,y}/b"), 2)) == ["a/x/b", "a/y/b"]
