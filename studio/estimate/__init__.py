"""Memory and time estimate for a run spec, before any weights are loaded.

How the numbers are made:

- The model is built on PyTorch's meta device from its config (no memory) and wrapped by the method
  exactly as a run wraps it; weights, gradients and optimizer states are summed from the real
  parameter shapes and dtypes (quantised linear layers at their bit width plus quantisation
  constants). A method can add bytes of its own (`Method.extra_memory`), a stage its reference,
  teacher or reward models and its sequences per example (`Stage.memory`).
- Activations are *measured* on the meta device: one forward pass of the wrapped model runs under
  `torch.autograd.graph.saved_tensors_hooks`, which sees every tensor autograd keeps for the backward
  pass (deduplicated by storage, parameters excluded), with or without gradient checkpointing. The
  loss head that trl computes in chunks (`trl.kernels.ChunkedLogProbFunction`) is added from its
  tile sizes. The same pass under `torch.utils.flop_counter.FlopCounterMode` (forward + backward)
  gives the FLOPs of a step.
- What the allocator does on top (glibc keeps freed blocks, CUDA's caching allocator rounds) and the
  process's own footprint are constants measured on real runs: `bench/memory.py` prints estimate vs
  measured peak for several methods (see CALIBRATION in units.py).
- Time: FLOPs per step divided by a throughput measured here and now (a short matmul probe, scaled
  by the share of matmul speed that training reaches, also measured by the benchmark), so a busy
  machine gives a slower, truthful ETA.

The package follows those sections: units (sizes, constants, texts), hardware, configs (a model's
shape without downloading it), probe (the meta pass), optimizer (state bytes), data (rows and token
lengths), planner (the estimate and its suggestions) and preflight (the check before a run).
"""

from .configs import REFERENCE_SHAPES, model_config, reference_for, shape_params
from .data import DataStats, data_stats, expected_batch_max, tokenizer_for
from .hardware import Hardware, hardware_here, measured_flops, named_hardware
from .optimizer import optimizer_bytes
from .planner import Estimate, Suggestion, estimate, extra_models
from .preflight import check
from .probe import Probe, dtypes, probe
from .units import (CALIBRATION, DTYPE_BYTES, PARTS, TEXTS, TIGHT_AT, TOKEN_CHUNK, VOCAB_CHUNK, GiB, MiB, human,
                    human_time, parse_size, text)

__all__ = [
    "CALIBRATION", "DTYPE_BYTES", "PARTS", "REFERENCE_SHAPES", "TEXTS", "TIGHT_AT", "TOKEN_CHUNK", "VOCAB_CHUNK",
    "DataStats", "Estimate", "GiB", "Hardware", "MiB", "Probe", "Suggestion", "check", "data_stats", "dtypes",
    "estimate", "expected_batch_max", "extra_models", "hardware_here", "human", "human_time", "measured_flops",
    "model_config", "named_hardware", "optimizer_bytes", "parse_size", "probe", "reference_for", "shape_params",
    "text", "tokenizer_for",
]
