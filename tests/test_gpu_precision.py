"""On a CUDA GPU (`-m gpu`): full fine-tuning with dtype auto trains fp32 master weights under bf16
autocast, and `model.dtype: bfloat16` trains pure bf16 (issue 11 item 6). Skipped without a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, tiny_spec, train_inline

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("dtype, expected", [("auto", "F32"), ("bfloat16", "BF16")])
def test_full_fine_tuning_precision_on_cuda(workspace, tiny_model, dtype, expected):
    from studio.spec import build_spec
    from studio.train.args import training_args
    from studio.train.precision import plan

    raw = tiny_spec(SAMPLES / "identity_alpaca.jsonl", max_steps=3, learning_rate=1e-4, save_steps=100)
    raw.update(method="full", method_args={}, model={"name": "tiny-random-llama", "dtype": dtype},
               resources={"device": "cuda"})
    spec = build_spec(raw)
    assert plan(spec, "cuda") == ("float32" if dtype == "auto" else "bfloat16", "bfloat16")
    assert training_args(spec, Path("/tmp/x"), "cuda", False)["bf16"] is True
    _run, art = train_inline(workspace, raw, f"full-{dtype}")
    header = (Path(art["model"]) / "model.safetensors").read_bytes()
    size = int.from_bytes(header[:8], "little")
    dtypes = {v["dtype"] for k, v in json.loads(header[8:8 + size]).items() if k != "__metadata__"}
    assert dtypes == {expected}
