"""Advantage estimators against hand-computed examples."""

from __future__ import annotations

import math

import pytest
import torch

from azr.rl.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from azr.rl.config import AdvantageConfig

# 5 samples: group 0 = rows 0-2 (rewards 1, 0, 1; 2, 1, 3 response tokens), group 1 = row 3
# alone, group 2 = row 4 alone.
SCORES = torch.tensor([1.0, 0.0, 1.0, 0.5, 2.0])
MASK = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 0], [1, 1, 0]], dtype=torch.float32)
GROUPS = torch.tensor([0, 0, 0, 1, 2])


def adv(name, **kw):
    return compute_advantages(SCORES, MASK, GROUPS, AdvantageConfig(estimator=name, eps=0.0, **kw))


def per_seq(a):
    """First response token's advantage of each row (all rows start with a response token)."""
    return a[:, 0]


def test_registry_names():
    assert set(ADVANTAGE_ESTIMATORS) == {"trr++", "reinforce++", "reinforce++-baseline", "grpo", "rloo"}


def test_trr_sequence_weighted():
    # group 0: mean 2/3, unbiased std sqrt(((1/3)^2 * 2 + (2/3)^2) / 2) = sqrt(1/3)
    s = math.sqrt(1 / 3)
    expect = torch.tensor([(1 / 3) / s, (-2 / 3) / s, (1 / 3) / s, 0.0, 0.0])
    a = adv("trr++", weighting="sequence")
    assert torch.allclose(per_seq(a), expect, atol=1e-6)
    assert torch.equal(a != 0, MASK.bool() & (GROUPS[:, None] == 0))  # zero off-mask and for singletons


def test_trr_token_weighted():
    # weights 2, 1, 3 -> mean 5/6; var = (2(1/6)^2 + (5/6)^2 + 3(1/6)^2) / (6 - 1) = 1/6
    s = math.sqrt(1 / 6)
    expect = torch.tensor([(1 / 6) / s, (-5 / 6) / s, (1 / 6) / s, 0.0, 0.0])
    assert torch.allclose(per_seq(adv("trr++", weighting="token")), expect, atol=1e-6)
    assert torch.equal(adv("trr++"), adv("trr++", weighting="token"))  # the default


def _reference_masked_whiten(returns, mask):
    """verl's masked_whiten as the reference (branch paper) applies it to one sub-batch."""
    mean = (returns * mask).sum() / mask.sum()
    var = (((returns - mean) ** 2) * mask).sum() / mask.sum() * mask.sum() / (mask.sum() - 1)
    return (returns - mean) * torch.rsqrt(var + 1e-8) * mask


def test_trr_default_matches_the_reference_per_group_token_whitening():
    g = torch.Generator().manual_seed(0)
    B, T = 24, 7
    scores = torch.tensor([-1.0, -0.5, 0.25, 1.0])[torch.randint(0, 4, (B,), generator=g)]
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    groups = torch.randint(0, 6, (B,), generator=g)  # six (task, role) groups
    ours = compute_advantages(scores, mask, groups, AdvantageConfig())
    for k in range(6):
        rows = groups == k
        if rows.sum() < 2:
            continue
        # token returns with gamma 1 and the reward on the last response token
        returns = scores[rows, None].double() * mask[rows].double()
        ref = _reference_masked_whiten(returns, mask[rows].double()).float()
        assert torch.allclose(ours[rows], ref, atol=1e-4), k


def test_trr_without_std_and_constant_group():
    assert torch.allclose(per_seq(adv("trr++", norm_std=False, weighting="sequence")), torch.tensor([1 / 3, -2 / 3, 1 / 3, 0, 0]))
    a = compute_advantages(torch.ones(3), torch.ones(3, 2), torch.zeros(3, dtype=torch.long), AdvantageConfig())
    assert torch.equal(a, torch.zeros(3, 2))  # all equal rewards: no signal, no NaN


def test_grpo_and_dr_grpo():
    s = math.sqrt(1 / 3)
    assert torch.allclose(per_seq(adv("grpo")), torch.tensor([(1 / 3) / s, (-2 / 3) / s, (1 / 3) / s, 0, 0]), atol=1e-6)
    assert torch.allclose(per_seq(adv("grpo", norm_std=False)), torch.tensor([1 / 3, -2 / 3, 1 / 3, 0, 0]))


def test_rloo():
    # r_i - mean of the others: 1 - 0.5, 0 - 1, 1 - 0.5
    assert torch.allclose(per_seq(adv("rloo")), torch.tensor([0.5, -1.0, 0.5, 0.0, 0.0]))


def test_reinforce_plus_plus_whitens_tokens_globally():
    # token returns: 1,1 | 0 | 1,1,1 | 0.5 | 2,2  (9 tokens): mean 1.0
    toks = torch.tensor([1, 1, 0, 1, 1, 1, 0.5, 2, 2], dtype=torch.float64)
    mean, std = toks.mean(), toks.std()
    expect = ((SCORES.double() - mean) / std).float()
    a = adv("reinforce++")
    assert torch.allclose(per_seq(a), expect, atol=1e-6)
    assert (a * MASK).sum().abs() < 1e-5  # whitened over tokens: token-weighted mean 0


def test_reinforce_plus_plus_baseline():
    centred = torch.tensor([1 / 3, -2 / 3, 1 / 3, 0.0, 0.0], dtype=torch.float64)
    toks = torch.cat([centred[i].repeat(int(MASK[i].sum())) for i in range(5)])
    expect = ((centred - toks.mean()) / toks.std()).float()
    assert torch.allclose(per_seq(adv("reinforce++-baseline")), expect, atol=1e-6)


def test_errors():
    with pytest.raises(KeyError):
        compute_advantages(SCORES, MASK, GROUPS, AdvantageConfig(estimator="nope"))
    with pytest.raises(ValueError):
        compute_advantages(SCORES, MASK, GROUPS[:-1], AdvantageConfig())
    with pytest.raises(ValueError):
        AdvantageConfig(weighting="bytes")
