"""Rewards: the proposer registry, the solver reward and the format-aware wrapper."""

import pytest

from azr.selfplay.config import RewardConfig
from azr.selfplay.rewards import (
    PROPOSER_REWARDS,
    Outcome,
    eq3,
    learnability,
    proposer_final_reward,
    solver_final_reward,
    target_rate,
)

CFG = RewardConfig()


@pytest.mark.parametrize("name", sorted(PROPOSER_REWARDS))
def test_every_proposer_reward_is_zero_at_extremes_and_positive_inside(name):
    fn = PROPOSER_REWARDS[name]
    assert fn(0.0, CFG) == 0.0 and fn(1.0, CFG) == 0.0
    for k in range(1, 8):
        assert 0.0 < fn(k / 8, CFG) <= 1.0


def test_learnability_values():
    assert learnability(0.25, CFG) == 0.75
    assert learnability(0.875, CFG) == pytest.approx(0.125)


def test_eq3_values_and_peak():
    assert eq3(0.5, CFG) == 1.0
    assert eq3(0.25, CFG) == 0.5 and eq3(0.75, CFG) == 0.5


def test_target_rate_peak_and_equals_eq3_at_half():
    cfg = RewardConfig(proposer="target_rate", target_rate=0.25)
    assert target_rate(0.25, cfg) == 1.0
    assert target_rate(0.125, cfg) == 0.5
    assert target_rate(0.625, cfg) == pytest.approx(0.5)
    for k in range(9):
        assert target_rate(k / 8, RewardConfig(target_rate=0.5)) == pytest.approx(eq3(k / 8, CFG))


def test_rates_out_of_range_rejected():
    with pytest.raises(ValueError):
        learnability(1.5, CFG)
    with pytest.raises(ValueError):
        RewardConfig(target_rate=1.0)


def test_format_wrapper_proposer():
    assert proposer_final_reward(Outcome.PASSABLE, 0.25, CFG) == 0.75
    assert proposer_final_reward(Outcome.WRONG, None, CFG) == -0.5
    assert proposer_final_reward(Outcome.FORMAT_ERROR, None, CFG) == -1.0
    # AZR's code: -0.5 for a valid proposal nobody/everybody solves; the paper: 0.
    assert proposer_final_reward(Outcome.PASSABLE, 0.0, CFG) == -0.5
    assert proposer_final_reward(Outcome.PASSABLE, 1.0, CFG) == -0.5
    paper = RewardConfig(degenerate_reward=0.0)
    assert proposer_final_reward(Outcome.PASSABLE, 1.0, paper) == 0.0
    with pytest.raises(ValueError):
        proposer_final_reward(Outcome.PASSABLE, None, CFG)


def test_format_wrapper_solver_and_off_switch():
    assert solver_final_reward(Outcome.PASSABLE, True, CFG) == 1.0
    assert solver_final_reward(Outcome.PASSABLE, False, CFG) == 0.0
    assert solver_final_reward(Outcome.FORMAT_ERROR, False, CFG) == -1.0
    plain = RewardConfig(format_aware=False)
    assert solver_final_reward(Outcome.FORMAT_ERROR, False, plain) == 0.0
    assert proposer_final_reward(Outcome.WRONG, None, plain) == 0.0
    assert proposer_final_reward(Outcome.PASSABLE, 0.5, RewardConfig(proposer="eq3")) == 1.0
