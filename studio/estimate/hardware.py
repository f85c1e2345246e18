"""The hardware a run is estimated for: this machine now, or a named device."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import StudioError
from .units import human, parse_size

@dataclass
class Hardware:
    device: str  # "cpu" | "cuda"
    count: int = 1  # processes / GPUs sharing the work
    memory: int | None = None  # bytes per device available to the run (None: unknown)
    label: str = ""
    flops: float | None = None  # achieved matmul FLOP/s per device (None: no time estimate)
    flops_how: str = ""
    bf16: bool = False  # a CPU whose rate is bf16 matmuls (its own training efficiency, units.CALIBRATION)


def hardware_here(spec, timing: bool = True) -> Hardware:
    """The machine this process runs on, as the run would use it (free memory now, matmul speed now)."""
    import psutil

    device = spec.resources.device
    if device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            visible = torch.cuda.device_count()
            count = min(spec.resources.num_gpus, visible)
            free = min(torch.cuda.mem_get_info(i)[0] for i in range(count))
            name = torch.cuda.get_device_name(0)
            rate = measured_flops("cuda") if timing else None
            return Hardware("cuda", spec.resources.num_gpus, free, f"{count}× {name} (free now)",
                            rate, "matmul probe on this GPU now")
        if device == "cuda":
            raise StudioError(key="spec.estimate_no_cuda")
    available = psutil.virtual_memory().available
    bf16 = timing and _cpu_computes_bf16(spec)
    return Hardware("cpu", 1, available, "this machine's RAM (available now)",
                    measured_flops("cpu", bf16=bf16) if timing else None,
                    f"{'bf16' if bf16 else 'fp32'} matmul probe on this CPU now", bf16=bf16)


def _cpu_computes_bf16(spec) -> bool:
    """The run's matmuls are bf16 on this CPU (AMX / AVX512-BF16: often ten times the fp32 rate)."""
    from ..train.precision import cpu_has_bf16

    return spec.training.precision in ("auto", "bf16") and cpu_has_bf16()


def named_hardware(memory: str | int, count: int = 1, device: str = "cuda", tflops: float | None = None) -> Hardware:
    """A device that need not be here, e.g. a 24 GiB GPU, for presets and planning."""
    size = parse_size(memory)
    label = f"{count}× {device.upper()} {human(size)}" if device == "cuda" else f"CPU with {human(size)}"
    return Hardware(device, count, size, label, tflops * 1e12 if tflops else None,
                    "the TFLOP/s you gave" if tflops else "")


_FLOPS_CACHE: dict[str, tuple[float, float]] = {}


def measured_flops(device: str, seconds: float = 0.3, bf16: bool = False) -> float:
    """Matmul FLOP/s reachable right now (cached for a minute): what this machine gives a run today."""
    now = time.time()
    key = f"{device}-bf16" if bf16 else device
    if key in _FLOPS_CACHE and now - _FLOPS_CACHE[key][1] < 60:
        return _FLOPS_CACHE[key][0]
    import torch

    n = 1024 if device == "cuda" else 512
    dtype = torch.bfloat16 if device == "cuda" or bf16 else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    (a @ b).sum().item()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(4 if device == "cpu" else 50):
            c = a @ b
        count += 4 if device == "cpu" else 50
        if device == "cuda":
            c.sum().item()
    rate = 2 * n ** 3 * count / (time.perf_counter() - start)
    _FLOPS_CACHE[key] = (rate, now)
    return rate

