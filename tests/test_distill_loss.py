"""Issue 11 item 5: distillation loss is Hinton's: T-softened distributions, a T² factor, a hard-label mix."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def logits(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 5, 11, generator=g)


def test_temperature_scaling_t_squared_and_the_cross_entropy_mix():
    import torch.nn.functional as F
    from trl.experimental.gkd import GKDTrainer

    from studio.stages.distill import kd_loss

    s, t = logits(0), logits(1)
    labels = torch.tensor([[1, 2, 3, -100, -100], [4, 5, 6, 7, 8]])
    mask = labels != -100
    # beta 0 = forward KL(teacher || student) at temperature T, times T², over the learned tokens
    for temp in (1.0, 2.0, 4.0):
        p_t = F.softmax(t / temp, -1)
        kl = (p_t * (F.log_softmax(t / temp, -1) - F.log_softmax(s / temp, -1))).sum(-1)
        want = temp ** 2 * kl[mask].mean()
        assert kd_loss(s, t, labels, beta=0.0, temperature=temp) == pytest.approx(want.item(), rel=1e-5)
    assert kd_loss(s, t, labels, 0.5, 1.0) == pytest.approx(
        GKDTrainer.generalized_jsd_loss(s, t, labels=labels, beta=0.5).item(), rel=1e-6)  # T = 1: trl's own
    ce = F.cross_entropy(s.flatten(0, 1), labels.flatten(), ignore_index=-100)
    assert kd_loss(s, t, labels, 0.0, 2.0, alpha=1.0) == pytest.approx(ce.item(), rel=1e-5)
    mixed = 0.3 * ce + 0.7 * kd_loss(s, t, labels, 0.0, 2.0)
    assert kd_loss(s, t, labels, 0.0, 2.0, alpha=0.3) == pytest.approx(mixed.item(), rel=1e-5)


def test_gradients_keep_their_size_as_the_temperature_grows():
    """Why T²: the soft-target gradients shrink like 1/T² (Hinton et al., section 2.1); T² keeps them the same."""
    from studio.stages.distill import kd_loss

    t = logits(1) * 0.1
    labels = torch.zeros(2, 5, dtype=torch.long)
    norms = []
    for temp in (4.0, 8.0):
        s = (logits(0) * 0.1).requires_grad_(True)
        kd_loss(s, t, labels, 0.0, temp).backward()
        norms.append(s.grad.norm().item())
    assert norms[1] == pytest.approx(norms[0], rel=0.05)  # without T² the second would be a quarter of the first


def test_options_reach_the_trainer_and_are_checked():
    from studio.errors import StudioError
    from studio.spec import build_spec
    from studio.stages.distill import trainer_class

    from conftest import SAMPLES, tiny_spec

    raw = dict(tiny_spec(SAMPLES / "identity_alpaca.jsonl"), stage="distill",
               stage_args={"teacher": "tiny-random-llama", "kd_temperature": 2.0, "alpha": 0.5})
    cfg = build_spec(raw).stage_config()
    assert cfg.kd_temperature == 2.0 and cfg.alpha == 0.5
    with pytest.raises(StudioError, match="alpha"):
        build_spec(dict(raw, stage_args={"teacher": "tiny-random-llama", "alpha": 1.5}))
    assert "compute_loss" in trainer_class().__dict__
