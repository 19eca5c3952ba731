"""Off-policy exploration mixing: assignment of rollouts and truncated importance weights."""

from __future__ import annotations

import math

import pytest
import torch

from azr.baselines.offpolicy import explore_count, importance_weights


def test_explore_count():
    assert [explore_count(8, f) for f in (0.0, 0.25, 0.5, 0.9, 1.0)] == [0, 2, 4, 7, 8]
    assert explore_count(2, 0.9) == 1  # a group keeps an on-policy sample unless fraction == 1
    assert explore_count(1, 0.5) == 0 and explore_count(3, 1.0) == 3
    with pytest.raises(ValueError):
        explore_count(4, 1.5)


def test_token_weights_match_hand_computation_and_are_truncated():
    old = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -1.0, 0.0]])
    beh = torch.tensor([[-1.5, -1.0, -3.0], [-3.0, -3.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    off = torch.tensor([True, False])
    w, m = importance_weights(old, beh, mask, off, cap=2.0, level="token")
    expected0 = [min(math.exp(0.5), 2.0), math.exp(-1.0), min(math.exp(2.5), 2.0)]
    assert w[0].tolist() == pytest.approx(expected0)
    assert w[1].tolist() == [1.0, 1.0, 0.0]  # on-policy: weight 1, padding 0
    assert m["explore/truncated_frac"] == pytest.approx(1 / 3)
    assert m["explore/weight_mean"] == pytest.approx(sum(expected0) / 3)
    assert 0 < m["explore/ess"] <= 1 and m["explore/fraction"] == 0.5
    assert not w.requires_grad


def test_sequence_weights_use_the_product_of_ratios():
    old = torch.tensor([[-1.0, -1.0, -9.0]], requires_grad=True)
    beh = torch.tensor([[-1.2, -1.1, 0.0]])
    mask = torch.tensor([[1, 1, 0]])
    w, _ = importance_weights(old, beh, mask, torch.tensor([True]), cap=10.0, level="sequence")
    assert w[0, :2].tolist() == pytest.approx([math.exp(0.3)] * 2) and w[0, 2] == 0
    w_inf, _ = importance_weights(old, beh - 50, mask, torch.tensor([True]), cap=float("inf"), level="sequence")
    assert math.isfinite(float(w_inf.max()))


def test_on_policy_samples_give_unit_weights_and_bad_args_raise():
    lp = torch.randn(4, 5)
    w, m = importance_weights(lp, lp, torch.ones(4, 5), torch.ones(4, dtype=torch.bool))
    assert torch.allclose(w, torch.ones(4, 5)) and m["explore/ess"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cap"):
        importance_weights(lp, lp, torch.ones(4, 5), torch.ones(4, dtype=torch.bool), cap=0.5)
    with pytest.raises(ValueError, match="level"):
        importance_weights(lp, lp, torch.ones(4, 5), torch.ones(4, dtype=torch.bool), level="step")
    with pytest.raises(ValueError, match="shape"):
        importance_weights(lp, lp[:, :3], torch.ones(4, 5), torch.ones(4, dtype=torch.bool))
