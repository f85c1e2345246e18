"""Imports go one way (CONTRIBUTING.md): ui, cli -> jobs -> train, merge, infer, eval -> methods, stages,
data -> models, config. A function-level import counts like one at the top of the file.

Fails on an import from a higher layer, on a private name (`_x`) imported from another module, on an
import cycle between modules, and on a studio package that has no layer yet (place it in LAYERS).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / "studio"

# the lowest layer is 0; a module may import its own layer or lower ones
LAYERS = {
    "studio.config": 0, "studio.errors": 0, "studio.i18n": 0, "studio.atomic": 0, "studio.workspace": 0,
    "studio.registry": 0, "studio.models": 0,
    # the run spec validates method and stage options against their registries, so it sits with them
    "studio.spec": 1, "studio.presets": 1, "studio.methods": 1, "studio.stages": 1, "studio.data": 1,
    # reading a trained artifact through the methods registry; inference engines (RLAIF and
    # Self-Instruct sample with them)
    "studio.merge.artifacts": 1, "studio.infer": 1,
    "studio.train": 2, "studio.merge": 2, "studio.eval": 2, "studio.estimate": 2, "studio.infer.serve": 2,
    "studio.data.self_instruct": 2,  # the generate job
    "studio.export": 2, "studio.clusters": 2, "studio.replay": 2, "studio.recipe": 2,
    "studio.data.docs": 2,  # documents -> Q&A: a generation job on the Self-Instruct teachers
    "studio.tracking": 2,  # experiment trackers for the trainer (TensorBoard, MLflow, W&B, trackio)
    "studio.jobs.secrets": 0,  # the encrypted key store: no dependency beyond cryptography
    "studio.jobs": 3, "studio.runs": 3, "studio.infer.compare": 3,  # starts and stops serve jobs
    "studio.ui": 4, "studio.cli": 4, "studio.__main__": 4, "studio": 4,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in STUDIO.rglob("*.py")}


def imports() -> list[tuple[str, str, str | None, int]]:
    """(importing module, imported module, imported name or None, line) for every studio import."""
    out = []
    for mod, path in MODULES.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("studio"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    out.append((mod, sub, None, node.lineno) if sub in MODULES
                               else (mod, target, alias.name, node.lineno))
            elif isinstance(node, ast.Import):
                out += [(mod, a.name, None, node.lineno) for a in node.names if a.name.startswith("studio")]
    return out


def layer(mod: str) -> int | None:
    parts = mod.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    return None


def test_every_module_has_a_layer():
    missing = sorted({m for m in MODULES if layer(m) is None or (m.count(".") >= 1 and
                                                                 ".".join(m.split(".")[:2]) not in LAYERS)})
    assert not missing, f"place these in LAYERS (tests/test_layering.py) and CONTRIBUTING.md: {missing}"


def test_imports_go_one_way():
    upward = []
    for src, dst, _name, line in imports():
        a, b = layer(src), layer(dst)
        if a is None or b is None or b <= a:
            continue
        upward.append(f"{src}:{line} imports {dst} (layer {b} > {a})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_private_name_is_imported_from_another_module():
    found = [f"{src}:{line} imports {name} from {dst}" for src, dst, name, line in imports()
             if name and name.startswith("_") and not name.startswith("__") and dst != src]
    for path in (ROOT / "launch.py",):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("studio"):
                found += [f"{path.name} imports {a.name}" for a in node.names if a.name.startswith("_")]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_no_import_cycles_between_modules():
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst, _name, _line in imports():
        if dst in MODULES and dst != src and not (src.startswith(dst + ".") and MODULES[dst].name == "__init__.py"):
            graph[src].add(dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in list(MODULES):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"
