"""Policy losses, KL estimators and aggregation against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from azr.rl.config import LossConfig
from azr.rl.losses import POLICY_LOSSES, AggNorm, aggregate, kl_penalty, total_loss

CFG = LossConfig(clip_high=0.28, dual_clip=3.0)  # clip 0.2 / 0.28 (clip-higher), dual-clip 3, token-mean


def _one(ratio: float, a: float, cfg: LossConfig = CFG):
    lp = torch.tensor([[0.0, math.log(ratio)]])
    old = torch.zeros(1, 2)
    mask = torch.tensor([[0.0, 1.0]])
    return POLICY_LOSSES[cfg.policy_loss](lp, old, torch.tensor([[0.0, a]]), mask, cfg, None)


@pytest.mark.parametrize(
    "ratio,a,expect,flag",
    [
        (1.0, 1.0, -1.0, None),
        (1.5, 1.0, -1.28, "clipfrac_high"),  # clipped above at 1 + 0.28
        (1.1, 1.0, -1.1, None),
        (0.5, 1.0, -0.5, None),  # positive advantage, low ratio: not clipped (pessimistic)
        (0.5, -1.0, 0.8, "clipfrac_low"),  # clipped below at 1 - 0.2
        (2.0, -1.0, 2.0, None),
        (5.0, -1.0, 3.0, "clipfrac_dual"),  # dual-clip caps -A * r at -A * 3
    ],
)
def test_ppo_clip_values(ratio, a, expect, flag):
    loss, m = _one(ratio, a)
    assert loss.item() == pytest.approx(expect, abs=1e-5)
    for k in ("clipfrac_low", "clipfrac_high", "clipfrac_dual"):
        assert m[k].item() == (1.0 if k == flag else 0.0)
    assert m["approx_kl"].item() == pytest.approx((ratio - 1) - math.log(ratio), abs=1e-6)


def test_no_dual_clip():
    loss, m = _one(5.0, -1.0, LossConfig(dual_clip=None))
    assert loss.item() == pytest.approx(5.0) and "clipfrac_dual" not in m


def test_ppo_gradient_zero_when_clipped():
    lp = torch.tensor([[0.0, math.log(1.5)]], requires_grad=True)
    loss, _ = POLICY_LOSSES["ppo_clip"](lp, torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([[0.0, 1.0]]), CFG)
    loss.backward()
    assert lp.grad.abs().sum() == 0


def test_aggregation_modes():
    v = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    m = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(v, m, "token-mean").item() == pytest.approx(10 / 4)
    assert aggregate(v, m, "seq-mean-token-mean").item() == pytest.approx((2 + 4) / 2)
    assert aggregate(v, m, "seq-mean-token-sum-norm").item() == pytest.approx(10 / (2 * 3))
    assert aggregate(v, m, "seq-mean-token-sum-norm", AggNorm.from_mask(m, 10)).item() == pytest.approx(10 / 20)
    with pytest.raises(ValueError):
        aggregate(v, m, "sum")


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_aggregation_splits_add_up(mode):
    g = torch.Generator().manual_seed(0)
    v = torch.randn(6, 5, generator=g)
    m = (torch.rand(6, 5, generator=g) > 0.3).float()
    m[2] = 0  # a sample without tokens
    norm = AggNorm.from_mask(m)
    whole = aggregate(v, m, mode, norm)
    parts = sum(aggregate(v[i : i + 2], m[i : i + 2], mode, norm) for i in range(0, 6, 2))
    assert torch.allclose(whole, parts, atol=1e-6)


def test_kl_estimators():
    lp, ref = torch.tensor([[-1.0, -2.0]]), torch.tensor([[-1.5, -1.0]])
    assert torch.allclose(kl_penalty(lp, ref, "k1"), torch.tensor([[0.5, -1.0]]))
    d = ref - lp
    assert torch.allclose(kl_penalty(lp, ref, "k3"), d.exp() - d - 1)
    assert (kl_penalty(lp, ref, "k3") >= 0).all()


def test_total_loss_entropy_and_kl_terms():
    g = torch.Generator().manual_seed(1)
    lp, old, a = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    ent, ref = torch.rand(2, 4, generator=g), torch.randn(2, 4, generator=g)
    m = torch.ones(2, 4)
    base, _ = POLICY_LOSSES["ppo_clip"](lp, old, a, m, CFG)
    cfg = LossConfig(clip_high=0.28, dual_clip=3.0, entropy_coef=0.01, kl_coef=0.1, kl_estimator="k1")
    loss, met = total_loss(lp, old, a, m, cfg, entropy=ent, ref_logprobs=ref)
    assert loss.item() == pytest.approx((base - 0.01 * ent.mean() + 0.1 * (lp - ref).mean()).item(), abs=1e-6)
    assert met["entropy"].item() == pytest.approx(ent.mean().item())
    with pytest.raises(ValueError):
        total_loss(lp, old, a, m, cfg, entropy=ent)  # kl_coef without reference


def test_clip_cov_drops_gradient_of_high_covariance_tokens():
    torch.manual_seed(0)
    n = 2000
    a = torch.randn(1, n)
    lp = (a * 3.0 + 0.1 * torch.randn(1, n)).requires_grad_()  # strongly correlated: large cov
    cfg = LossConfig(policy_loss="clip_cov", clip_cov_ratio=0.01, clip_cov_lb=1.0, clip_cov_ub=50.0)
    loss, m = POLICY_LOSSES["clip_cov"](lp, lp.detach(), a, torch.ones(1, n), cfg)
    loss.backward()
    dropped = lp.grad == 0
    assert int(dropped.sum()) == 20 and m["clip_cov_frac"].item() == pytest.approx(0.01)
    cov = (a - a.mean()) * (lp.detach() - lp.detach().mean())
    assert ((cov[dropped] >= 1.0) & (cov[dropped] <= 50.0)).all()


def test_kl_cov_penalises_top_covariance_tokens():
    torch.manual_seed(0)
    n = 1000
    a = torch.randn(1, n)
    old = a * 2.0
    lp = (old + 0.05).requires_grad_()  # ratio e^0.05 everywhere
    cfg = LossConfig(policy_loss="kl_cov", kl_cov_ratio=0.01, kl_cov_coef=1.0)
    loss, m = POLICY_LOSSES["kl_cov"](lp, old, a, torch.ones(1, n), cfg)
    r = math.exp(0.05)
    cov = (a - a.mean()) * (lp.detach() - lp.detach().mean())
    top = torch.topk(cov.flatten(), 10).indices
    expect = (-a * r).sum() + 0.05 * 10
    assert loss.item() == pytest.approx(expect.item() / n, abs=1e-5)
    loss.backward()
    grad_plain = (-a * r / n).flatten()
    diff = (lp.grad.flatten() - grad_plain).abs() > 1e-7
    assert set(diff.nonzero().flatten().tolist()) == set(top.tolist())
