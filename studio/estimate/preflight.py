"""The check before a run starts: refuse what cannot fit, warn about what is tight."""

from __future__ import annotations

from pathlib import Path

from ..errors import StudioError
from .hardware import Hardware
from .planner import estimate
from .units import human

def check(spec, workspace_root: Path | None = None, hardware: Hardware | None = None) -> list[str]:
    """Refuse a run that cannot fit (unless resources.ignore_memory_check); return warnings otherwise."""
    try:
        est = estimate(spec, workspace_root, hardware, quick=True)
    except StudioError as exc:
        return [f"memory estimate skipped: {exc.one_line()}"]
    if est.verdict == "too_big" and not spec.resources.ignore_memory_check:
        tips = "; ".join(s.text("en") for s in est.suggestions[:3]) or "use a smaller model"
        raise StudioError(key="spec.estimate_too_big", need=human(est.total), where=est.hardware.label,
                          have=human(est.hardware.memory), tips=tips)
    if est.verdict in ("tight", "too_big"):
        return [est.headline("en")]
    return []
