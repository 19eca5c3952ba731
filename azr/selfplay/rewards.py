"""Rewards of self-play: plain typed functions, proposer rewards in a registry.

- Proposer rewards map the estimated solve rate ``s`` of a valid proposal (the mean
  correctness of n solver samples drawn at the rollout temperature) to a reward; every one is
  0 at s in {0, 1} (a task nobody or everybody solves teaches nothing). Selected by name with
  ``reward.proposer``; the trainer never branches on the name.
- The solver reward is 1 if the answer is correct, else 0.
- The format-aware wrapper (Absolute Zero paper, Eq. 6) maps an ``Outcome`` to the final
  scalar: a *passable* response gets its role reward; a well-formatted response that is
  wrong/invalid gets ``wrong_format_reward`` (-0.5); a format error gets
  ``format_error_reward`` (-1). For the proposer, "passable" means the proposal is valid;
  for the solver, that the answer parsed (a parsed but wrong answer is passable with role
  reward 0, as in AZR's code). A valid proposal with s in {0, 1} gets
  ``degenerate_reward``: -0.5 in AZR's code, 0.0 in the paper's equation.
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
    """AZR's learnability reward: 1 - s, and 0 when s in {0, 1}."""
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


def solver_reward(correct: bool) -> float:
    """1 if the solver's answer is correct, else 0."""
    return 1.0 if correct else 0.0


class Outcome(str, Enum):
    """How a completion fared before its role reward applies."""

    PASSABLE = "passable"  # proposer: valid proposal; solver: the answer parsed
    WRONG = "wrong"  # well formatted, but the proposal failed validation
    FORMAT_ERROR = "format_error"  # the completion did not parse


def format_aware(outcome: Outcome, role_reward: float, cfg: RewardConfig) -> float:
    """The final reward of a completion (see the module docstring).

    Without ``cfg.format_aware`` the role reward is used for passable completions and 0
    otherwise.
    """
    outcome = Outcome(outcome)
    if outcome is Outcome.PASSABLE:
        return float(role_reward)
    if not cfg.format_aware:
        return 0.0
    return cfg.wrong_format_reward if outcome is Outcome.WRONG else cfg.format_error_reward


def proposer_final_reward(outcome: Outcome, solve_rate: float | None, cfg: RewardConfig) -> float:
    """A proposal's reward: the registry's reward of its solve rate when valid (or
    ``degenerate_reward`` at s in {0, 1}), else the format wrapper's penalty."""
    outcome = Outcome(outcome)
    if outcome is not Outcome.PASSABLE:
        return format_aware(outcome, 0.0, cfg)
    if solve_rate is None:
        raise ValueError("a valid proposal needs its estimated solve rate")
    if _check_rate(solve_rate) in (0.0, 1.0):
        return cfg.degenerate_reward if cfg.format_aware else 0.0
    return format_aware(outcome, PROPOSER_REWARDS[cfg.proposer](solve_rate, cfg), cfg)


def solver_final_reward(outcome: Outcome, correct: bool, cfg: RewardConfig) -> float:
    """A solver answer's reward: 1/0 when it parsed, the format penalty otherwise."""
    outcome = Outcome(outcome)
    if outcome is Outcome.WRONG:
        raise ValueError("a solver answer is either passable (parsed) or a format error")
    return format_aware(outcome, solver_reward(correct) if outcome is Outcome.PASSABLE else 0.0, cfg)
