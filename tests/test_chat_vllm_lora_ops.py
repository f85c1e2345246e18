"""The grouped LoRA ops give vLLM's own CPU ops' results (and leave "no LoRA" rows untouched)."""

from __future__ import annotations

import pytest

from studio.infer.engines import vllm_installed

pytestmark = [pytest.mark.vllm, pytest.mark.skipif(not vllm_installed(), reason="vllm is not installed")]


@pytest.fixture
def ops():
    import torch
    from vllm.lora.ops.torch_ops import lora_ops

    from studio.infer import vllm_cpu_lora

    torch.manual_seed(0)
    return lora_ops, vllm_cpu_lora, torch


@pytest.mark.parametrize("rows", [[0, 2, 2, 1, 0, 3, 1], [2] * 7])
def test_grouped_ops_equal_vllms_own(ops, rows):
    stock, grouped, torch = ops
    idx = torch.tensor(rows)
    n, d_in, r, d_out = len(rows), 64, 16, 96
    x = torch.randn(n, d_in, dtype=torch.bfloat16)
    a = torch.randn(4, 1, r, d_in, dtype=torch.bfloat16)
    b = torch.randn(4, 1, d_out, r, dtype=torch.bfloat16)
    y1, y2 = torch.zeros(n, r), torch.zeros(n, r)
    stock.bgmv_shrink(x, a, y1, idx, 0.5)
    grouped.bgmv_shrink(x, a, y2, idx, 0.5)
    assert torch.allclose(y1, y2, rtol=1e-3, atol=1e-3)
    xr = torch.randn(n, r, dtype=torch.bfloat16)
    for add in (True, False):
        z1 = torch.randn(n, d_out + 8, dtype=torch.bfloat16)
        z2 = z1.clone()
        stock.bgmv_expand(xr, b, z1, idx, add)
        grouped.bgmv_expand(xr, b, z2, idx, add)
        assert torch.allclose(z1.float(), z2.float(), rtol=2e-2, atol=2e-2)
        z1 = torch.randn(n, 200, dtype=torch.bfloat16)
        z2 = z1.clone()
        stock.bgmv_expand_slice(xr, b, z1, idx, 10, d_out, add)
        grouped.bgmv_expand_slice(xr, b, z2, idx, 10, d_out, add)
        assert torch.allclose(z1.float(), z2.float(), rtol=2e-2, atol=2e-2)


def test_rows_without_lora_get_nothing(ops):
    """vLLM's ops index slot -1 as the last slot; the grouped ops treat it as "no LoRA", as documented."""
    _stock, grouped, torch = ops
    idx = torch.tensor([-1, 1, -1, 0])
    xr = torch.randn(4, 16, dtype=torch.bfloat16)
    b = torch.randn(3, 1, 32, 16, dtype=torch.bfloat16)  # the last slot holds a real adapter
    before = torch.randn(4, 32, dtype=torch.bfloat16)
    after = before.clone()
    grouped.bgmv_expand(xr, b, after, idx, True)
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])
    assert not torch.equal(after[1], before[1])


def test_plugin_only_acts_when_the_studio_asks(ops, monkeypatch):
    import vllm.lora.ops.torch_ops.lora_ops as lora_ops
    from vllm.lora.punica_wrapper import punica_cpu

    _stock, grouped, _torch = ops
    original = punica_cpu.bgmv_shrink
    for name in grouped.REPLACED:  # monkeypatch puts vLLM's own ops back after the test
        monkeypatch.setattr(lora_ops, name, getattr(lora_ops, name))
        monkeypatch.setattr(punica_cpu, name, getattr(punica_cpu, name))
    monkeypatch.setenv(grouped.ENV, "0")
    grouped.plugin()
    assert punica_cpu.bgmv_shrink is original
    monkeypatch.setenv(grouped.ENV, "1")
    grouped.plugin()
    assert punica_cpu.bgmv_shrink is grouped.bgmv_shrink and lora_ops.bgmv_expand is grouped.bgmv_expand
