"""Issue 11 item 6: full fine-tuning on CUDA with dtype auto keeps fp32 master weights under bf16 mixed
precision unless pure bf16 is asked for; the estimate follows the same decision (checked on the CPU)."""

from __future__ import annotations

import pytest

from conftest import tiny_spec
from studio import estimate as est
from studio.spec import build_spec
from studio.train.precision import compute_dtype, weights_dtype

GPU = est.named_hardware("80GiB", device="cuda")


@pytest.mark.parametrize("model_dtype, device, trains_base, bf16_ok, want", [
    ("auto", "cuda", True, True, "float32"),     # full / selective / sparse / BitFit: fp32 master weights
    ("auto", "cuda", False, True, "bfloat16"),   # a frozen base under an adapter
    ("auto", "cuda", True, False, "float32"),
    ("auto", "cuda", False, False, "float32"),   # no bf16 on this GPU
    ("bfloat16", "cuda", True, True, "bfloat16"),  # pure bf16, asked for
    ("auto", "cpu", True, True, "float32"),
    ("float16", "cpu", False, False, "float16"),
])
def test_weights_dtype(model_dtype, device, trains_base, bf16_ok, want):
    assert weights_dtype(model_dtype, device, trains_base, bf16_ok) == want


def test_compute_dtype_is_mixed_precision_over_fp32_masters():
    assert compute_dtype("auto", "cuda", "float32", True) == "bfloat16"
    assert compute_dtype("fp32", "cuda", "float32", True) == "float32"
    assert compute_dtype("auto", "cpu", "float32", False) == "float32"
    assert compute_dtype("fp16", "cuda", "float32", True) == "float16"


def spec(method: str, **model):
    raw = tiny_spec("", batch_size=2, max_length=32)
    raw.update(method=method, method_args={}, model={"name": "tiny-random-llama", **model})
    return build_spec(raw)


def test_the_estimate_follows_the_decision(tiny_model):
    full = est.estimate(spec("full"), hardware=GPU)
    params = full.details["params"]
    assert full.parts["weights"] == 4 * params  # fp32 master weights
    assert full.parts["activations"] > est.estimate(spec("full", dtype="bfloat16"), hardware=GPU).parts["activations"]
    pure = est.estimate(spec("full", dtype="bfloat16"), hardware=GPU)
    assert pure.parts["weights"] == 2 * params and pure.total < full.total
    lora = est.estimate(spec("lora"), hardware=GPU)
    assert lora.parts["weights"] < 2.2 * params  # frozen bf16 base (+ small fp32 adapters)
    assert est.dtypes(spec("full"), "cuda")[0].itemsize == 4 and est.dtypes(spec("lora"), "cuda")[0].itemsize == 2
