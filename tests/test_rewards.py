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


# The reference's reward manager (absolute_zero_reasoner/rewards/reward_managers.py, branch
# `paper`), case by case. Proposer ("gen") branch: format score 0 (the program or its inputs
# fail parsing / the single-function rule / banned keywords / execution / determinism, or the
# completion is not in the answer format) -> -1; valid with accuracy reward > 0 -> that reward;
# valid with accuracy reward 0 (solve rate 0 or 1 under `one_minus`) -> -0.5.
# Solver ("pred") branch: format score 0 -> -1; accuracy > 0 -> accuracy; else -0.5.
REFERENCE_PROPOSER_CASES = [
    (Outcome.FORMAT_ERROR, None, -1.0),  # the completion does not parse
    (Outcome.WRONG, None, -1.0),  # parsed, invalid program / inputs / execution
    (Outcome.PASSABLE, 0.0, -0.5),  # valid, nobody solves it
    (Outcome.PASSABLE, 1.0, -0.5),  # valid, everybody solves it
    (Outcome.PASSABLE, 0.25, 0.75),  # valid, learnable: 1 - s
    (Outcome.PASSABLE, 0.875, 0.125),
]
REFERENCE_SOLVER_CASES = [
    (Outcome.FORMAT_ERROR, False, -1.0),  # no parsable answer
    (Outcome.PASSABLE, False, -0.5),  # parsed, wrong
    (Outcome.PASSABLE, True, 1.0),  # parsed, correct
]


@pytest.mark.parametrize("outcome,rate,expected", REFERENCE_PROPOSER_CASES)
def test_proposer_defaults_follow_the_reference_branches(outcome, rate, expected):
    assert proposer_final_reward(outcome, rate, CFG) == pytest.approx(expected)


@pytest.mark.parametrize("outcome,correct,expected", REFERENCE_SOLVER_CASES)
def test_solver_defaults_follow_the_reference_branches(outcome, correct, expected):
    assert solver_final_reward(outcome, correct, CFG) == expected


def test_invalid_and_trivial_proposals_score_differently_by_default():
    assert proposer_final_reward(Outcome.WRONG, None, CFG) < proposer_final_reward(Outcome.PASSABLE, 1.0, CFG)


def test_named_options_restore_the_alternatives():
    old = RewardConfig(invalid_proposal=-0.5, degenerate_reward=0.0, solver_wrong=0.0)
    assert proposer_final_reward(Outcome.WRONG, None, old) == -0.5
    assert proposer_final_reward(Outcome.PASSABLE, 1.0, old) == 0.0
    assert proposer_final_reward(Outcome.PASSABLE, 0.0, old) == 0.0
    assert proposer_final_reward(Outcome.FORMAT_ERROR, None, old) == -1.0
    assert solver_final_reward(Outcome.PASSABLE, False, old) == 0.0
    assert solver_final_reward(Outcome.PASSABLE, True, old) == 1.0
    assert solver_final_reward(Outcome.FORMAT_ERROR, False, old) == -1.0


def test_a_valid_proposal_needs_its_rate_and_a_solver_cannot_be_invalid():
    with pytest.raises(ValueError):
        proposer_final_reward(Outcome.PASSABLE, None, CFG)
    with pytest.raises(ValueError):
        solver_final_reward(Outcome.WRONG, False, CFG)


def test_format_aware_off_switch():
    plain = RewardConfig(format_aware=False)
    assert solver_final_reward(Outcome.FORMAT_ERROR, False, plain) == 0.0
    assert solver_final_reward(Outcome.PASSABLE, False, plain) == 0.0
    assert solver_final_reward(Outcome.PASSABLE, True, plain) == 1.0
    assert proposer_final_reward(Outcome.WRONG, None, plain) == 0.0
    assert proposer_final_reward(Outcome.FORMAT_ERROR, None, plain) == 0.0
    assert proposer_final_reward(Outcome.PASSABLE, 1.0, plain) == 0.0
    assert proposer_final_reward(Outcome.PASSABLE, 0.5, RewardConfig(proposer="eq3")) == 1.0
