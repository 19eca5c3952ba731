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


def test_rlvr_batch_weights_only_the_off_policy_samples(tiny_policy):
    """RLVR's batch: behaviour samples get pi_old as PPO denominator and A * min(pi_old/mu, cap)."""
    from azr.baselines.config import BaselineConfig, ControlsConfig
    from azr.baselines.rlvr import build_batch
    from azr.rl.config import AdvantageConfig
    from azr.rl.update import recompute_logprobs
    from azr.rollout.types import Completion
    from azr.selfplay.records import Rollout
    from azr.tasks import Role, TaskType

    model, tok = tiny_policy
    prompt = tuple(tok("def f(a):")["input_ids"])
    g = torch.Generator().manual_seed(0)
    rollouts = []
    for j, (reward, explore) in enumerate([(1.0, False), (0.0, False), (1.0, True), (0.0, True)]):
        ids = tuple(torch.randint(0, len(tok), (5,), generator=g).tolist())
        behaviour = tuple((-torch.rand(5, generator=g) * 16).tolist())  # mu's log-probs, as reported by a sampler
        c = Completion(ids, "", behaviour, "length", prompt)
        rollouts.append(Rollout(TaskType.DEDUCTION, Role.SOLVE, "p", c, reward, {"explore": explore}))
    cfg = BaselineConfig(advantage=AdvantageConfig(estimator="grpo"),
                         controls=ControlsConfig(explore_fraction=0.5, is_cap=3.0))
    batch, seq_adv, metrics = build_batch(cfg, model, rollouts, torch.tensor([0, 0, 0, 0]), tok.pad_token_id)
    plain, _, _ = build_batch(BaselineConfig(advantage=AdvantageConfig(estimator="grpo")), model, [
        Rollout(r.task_type, r.role, r.prompt, r.completion, r.reward, {"explore": False}) for r in rollouts
    ], torch.tensor([0, 0, 0, 0]), tok.pad_token_id)
    old, _ = recompute_logprobs(model, batch, autocast="none")
    m = batch.response_mask > 0
    for b in (2, 3):
        w = torch.exp(old[b][m[b]] - plain.old_logprobs[b][m[b]]).clamp(max=3.0)
        assert torch.allclose(batch.advantages[b][m[b]], plain.advantages[b][m[b]] * w, atol=1e-5)
        assert torch.allclose(batch.old_logprobs[b][m[b]], old[b][m[b]], atol=1e-5)
    for b in (0, 1):  # on-policy rows untouched
        assert torch.equal(batch.advantages[b], plain.advantages[b])
        assert torch.equal(batch.old_logprobs[b], plain.old_logprobs[b])
    assert metrics["explore/fraction"] == 0.5 and 0 < metrics["explore/truncated_frac"] < 1
