"""Rewards of self-play: plain typed functions, proposer rewards in a registry.

- Proposer rewards map the estimated solve rate ``s`` of a valid proposal (the mean
  correctness of n solver samples drawn at the rollout temperature) to a reward; every one is
  0 at s in {0, 1} (a task nobody or everybody solves teaches nothing). Selected by name with
  ``reward.proposer``; the trainer never branches on the name.
- The format-aware wrapper (Absolute Zero paper, Eq. 6) maps a completion's ``Outcome`` to
  the final scalar. The defaults are those of the reference implementation's reward manager
  (``absolute_zero_reasoner/rewards/reward_managers.py``, branch ``paper``; see
  docs/fidelity.md), each penalty a named ``RewardConfig`` field:

  ========  ==========================================  =======================  =======
  role      case                                        field                    default
  ========  ==========================================  =======================  =======
  proposer  the completion does not parse               ``format_error_reward``  -1
  proposer  parsed, but invalid (program, inputs,       ``invalid_proposal``     -1
            execution, determinism)
  proposer  valid, solve rate s in {0, 1}               ``degenerate_reward``    -0.5
  proposer  valid, 0 < s < 1                            the registry's reward(s)
  solver    the answer does not parse                   ``format_error_reward``  -1
  solver    parsed and wrong                            ``solver_wrong``         -0.5
  solver    parsed and correct                                                   1
  ========  ==========================================  =======================  =======

  Options: ``invalid_proposal=-0.5`` and ``solver_wrong=0.0`` restore azr's earlier rewards
  (an invalid proposal scored like a valid but trivial one; a plain 1/0 solver reward);
  ``degenerate_reward=0.0`` reads the paper's Eq. 4 literally. ``format_aware=False`` drops
  every penalty: role reward when passable, else 0.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from azr.selfplay.config import RewardConfig

ProposerReward = Callable[[float, RewardConfig], float]
"""``(solve_rate in [0, 1], config) -> reward``."""


def _check_rate(s: float) -> float:
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"solve rate must be in [0, 1], got {s}")
    return s


def learnability(s: float, cfg: RewardConfig) -> float:
    """The learnability reward (paper Eq. 4; the reference's ``one_minus`` conversion): 1 - s,
    and 0 when s in {0, 1}."""
    s = _check_rate(s)
    return 0.0 if s in (0.0, 1.0) else 1.0 - s


def eq3(s: float, cfg: RewardConfig) -> float:
    """The seed study's Eq. 3 (as in R-Zero): 1 - 2|s - 0.5|, 0 at s in {0, 1}; peak at 0.5."""
    s = _check_rate(s)
    return 0.0 if s in (0.0, 1.0) else 1.0 - 2.0 * abs(s - 0.5)


def target_rate(s: float, cfg: RewardConfig) -> float:
    """A triangular peak at ``cfg.target_rate`` t: s/t below t, (1-s)/(1-t) above; 1 at s = t,
    0 at s in {0, 1}. With t = 0.5 it equals ``eq3``."""
    s, t = _check_rate(s), cfg.target_rate
    if s in (0.0, 1.0):
        return 0.0
    return s / t if s <= t else (1.0 - s) / (1.0 - t)


PROPOSER_REWARDS: dict[str, ProposerReward] = {
    "learnability": learnability,
    "eq3": eq3,
    "target_rate": target_rate,
}


class Outcome(str, Enum):
    """How a completion fared before its role reward applies."""

    PASSABLE = "passable"  # proposer: valid proposal; solver: the answer parsed
    WRONG = "wrong"  # proposer only: parsed, but the proposal failed validation
    FORMAT_ERROR = "format_error"  # the completion did not parse


def proposer_final_reward(outcome: Outcome, solve_rate: float | None, cfg: RewardConfig) -> float:
    """A proposal's reward (see the module docstring's table).

    ``solve_rate`` is required for a valid (``PASSABLE``) proposal and ignored otherwise.
    """
    outcome = Outcome(outcome)
    if outcome is Outcome.FORMAT_ERROR:
        return cfg.format_error_reward if cfg.format_aware else 0.0
    if outcome is Outcome.WRONG:
        return cfg.invalid_proposal if cfg.format_aware else 0.0
    if solve_rate is None:
        raise ValueError("a valid proposal needs its estimated solve rate")
    if _check_rate(solve_rate) in (0.0, 1.0):
        return cfg.degenerate_reward if cfg.format_aware else 0.0
    return float(PROPOSER_REWARDS[cfg.proposer](solve_rate, cfg))


def solver_final_reward(outcome: Outcome, correct: bool, cfg: RewardConfig) -> float:
    """A solver answer's reward: 1 when it parsed and is correct, ``solver_wrong`` when it
    parsed and is wrong, ``format_error_reward`` when it did not parse (without
    ``format_aware``: 1/0)."""
    outcome = Outcome(outcome)
    if outcome is Outcome.WRONG:
        raise ValueError("a solver answer is either passable (parsed) or a format error")
    if outcome is Outcome.PASSABLE and correct:
        return 1.0
    if not cfg.format_aware:
        return 0.0
    return cfg.solver_wrong if outcome is Outcome.PASSABLE else cfg.format_error_reward
