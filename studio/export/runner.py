"""The `export` job: a tuned model (adapter, merged or full) -> GGUF + Ollama Modelfile + model card.

    spec: {source: adapter or model folder (or model name), format: gguf, quant: f16|q8_0|f32|bf16,
           output: path of the .gguf (default: <workspace>/exports/<name>/<name>.<quant>.gguf),
           base_model: override the artifact's base (optional)}

An adapter (or any trained artifact) is merged onto its base first by the merge code
(`studio.merge.runner.merge_artifact`, with its own logit check) into the job folder; that merged
folder is converted, read back and compared (`gguf.verify`), and removed at the end. Beside the
.gguf land `Modelfile`, `README.md` (the model card) and `export_report.json` (names that already
exist there get the file's stem as a prefix instead of being overwritten).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ..atomic import write_json, write_text
from ..errors import StudioError
from ..workspace import safe_name
from . import card, gguf, ollama

REPORT = "export_report.json"


def _noop(*_args) -> None:
    return None


def is_artifact(folder: Path) -> bool:
    return (folder / "studio_run.json").is_file() or (folder / "adapter_config.json").is_file()


def default_name(source: str) -> str:
    folder = Path(source)
    name = folder.parent.name if folder.name in ("adapter", "model") else folder.name
    return safe_name(name or "model", "export name")


def default_output(exports: Path, source: str, quant: str) -> Path:
    name = default_name(source)
    folder = exports / f"{name}-gguf"
    n = 2
    while folder.exists():
        folder, n = exports / f"{name}-gguf-{n}", n + 1
    return folder / f"{name}.{quant}.gguf"


def _companion(folder: Path, name: str, stem: str) -> Path:
    path = folder / name
    return path if not path.exists() else folder / f"{stem}.{name}"


def prepare_source(source: str, work: Path, base_model: str | None, progress) -> tuple[Path, dict | None]:
    """(plain model folder, merge report or None): artifacts are merged first, models used as they are."""
    from ..merge.runner import REPORT as MERGE_REPORT
    from ..merge.runner import merge_artifact

    folder = Path(source).expanduser()
    if folder.is_dir() and is_artifact(folder):
        progress(0.05, f"Merging {folder} onto its base")
        report = merge_artifact(folder, work / "merged", "float32", base_model,
                                progress=lambda f, m: progress(0.05 + 0.3 * (f or 0), m))
        return work / "merged", report
    if folder.is_dir():
        report = None
        if (folder / MERGE_REPORT).is_file():
            report = json.loads((folder / MERGE_REPORT).read_text(encoding="utf-8"))
        return folder, report
    from ..models import resolve

    return resolve(source).path, None


def export(source: str, output: Path, quant: str, work: Path, base_model: str | None = None,
           progress=_noop) -> dict:
    quant = gguf.check_quant(quant)
    if output.suffix != ".gguf":
        raise StudioError(key="export.not_gguf_name", path=str(output))
    if output.exists():
        raise StudioError(key="export.exists", path=str(output))
    work.mkdir(parents=True, exist_ok=True)
    folder, merge_report = prepare_source(source, work, base_model, progress)
    gguf.check_model(folder)
    progress(0.4, f"Converting to GGUF ({quant})")
    gguf.convert(folder, output, quant, log=lambda m: progress(None, m))
    progress(0.6, "Reading the GGUF back and answering the probes")
    from ..merge.verify import PROBES

    check = gguf.verify(folder, output, quant, PROBES, log=lambda m: progress(None, m))
    info = card.facts(Path(source).expanduser(), merge_report)
    info["base_model"] = info.get("base_model") or str(source)
    modelfile = _companion(output.parent, "Modelfile", output.stem)
    write_text(modelfile, ollama.modelfile(output.name, ollama.chat_template(folder)))
    readme = _companion(output.parent, "README.md", output.stem)
    write_text(readme, card.render(output.stem, output.name, quant, info, merge_report, check))
    report = {"source": str(source), "gguf": str(output), "quant": quant, "bytes": output.stat().st_size,
              "modelfile": str(modelfile), "readme": str(readme), "merged_first": merge_report is not None
              and str(folder).startswith(str(work)), "base_model": info.get("base_model"),
              "method": info.get("method"), "check": check, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_json(_companion(output.parent, REPORT, output.stem), report)
    return report


def job_spec(source: str, fmt: str, quant: str, output: str | None, base: str | None) -> dict:
    """The export job's spec (the CLI and the Merge page's export panel both use this)."""
    from pathlib import Path

    from .gguf import check_quant

    path = Path(source).expanduser()
    if path.exists():
        source = str(path.resolve())
    elif "/" in source or source.startswith("."):
        raise StudioError(key="export.source_missing", path=source)
    spec = {"source": source, "format": fmt, "quant": check_quant(quant), "base_model": base or None}
    if output:
        out = Path(output).expanduser().resolve()
        if out.suffix != ".gguf":
            raise StudioError(key="export.not_gguf_name", path=str(out))
        if out.exists():
            raise StudioError(key="export.exists", path=str(out))
        spec["output"] = str(out)
    return spec


def run_job(ctx) -> dict:
    spec = ctx.spec
    if (spec.get("format") or "gguf") != "gguf":
        raise StudioError(key="export.format_unknown", format=spec.get("format"))
    quant = gguf.check_quant(spec.get("quant") or "q8_0")
    output = Path(spec["output"]) if spec.get("output") else default_output(ctx.workspace.exports,
                                                                             spec["source"], quant)
    work = ctx.run_dir / "work"
    try:
        report = export(spec["source"], output, quant, work, spec.get("base_model"),
                        progress=lambda f, m: ctx.progress(f, m))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json(ctx.run_dir / REPORT, report)
    check = report["check"]
    verdict = "same greedy answers" if check["vs_merged"]["same_tokens"] else (
        "same greedy answers as the stored weights" if check["passed"] else "answers differ: see the report")
    ctx.events.progress(1.0, f"Exported {output.name} ({report['bytes'] / 1e6:.1f} MB): {verdict}", force=True)
    if not check["passed"]:
        raise StudioError(key="export.check_failed", path=str(output), report=str(ctx.run_dir / REPORT))
    return {"gguf": str(output), "modelfile": report["modelfile"], "readme": report["readme"],
            "report": str(ctx.run_dir / REPORT)}
