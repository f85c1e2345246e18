"""What the status bar says about the machine: the device and the memory in use.

Cheap on purpose (it runs on every status refresh): psutil for the CPU and RAM, `nvidia-smi` for
GPUs (no torch import in the UI process); the GPU's name is looked up once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

import psutil


@lru_cache(maxsize=1)
def _has_nvidia_smi() -> bool:
    return shutil.which("nvidia-smi") is not None


def _gpus() -> list[dict]:
    if not _has_nvidia_smi():
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.used,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append({"name": parts[0], "used_gb": int(parts[1]) / 1024, "total_gb": int(parts[2]) / 1024})
    return gpus


def reading() -> dict:
    """{"device": "CPU · 2 cores" | "<GPU name>", "used_gb", "total_gb", "kind": "cpu"|"gpu"}."""
    gpus = _gpus()
    if gpus:
        name = gpus[0]["name"] + (f" ×{len(gpus)}" if len(gpus) > 1 else "")
        return {"kind": "gpu", "device": name, "used_gb": sum(g["used_gb"] for g in gpus),
                "total_gb": sum(g["total_gb"] for g in gpus)}
    mem = psutil.virtual_memory()
    return {"kind": "cpu", "device": f"CPU · {os.cpu_count() or 1}", "used_gb": (mem.total - mem.available) / 2**30,
            "total_gb": mem.total / 2**30}
