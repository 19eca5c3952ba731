"""The record that carries one sampled completion from the step to the update and the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from azr.rollout.types import Completion
from azr.tasks.types import GROUPS, Role, TaskType


@dataclass
class Rollout:
    """One sampled completion that enters the policy update, with its reward and what the
    metrics, the exploration controls and the sample logs need to know about it."""

    task_type: TaskType
    role: Role
    prompt: str
    completion: Completion
    reward: float = 0.0
    outcome: str = ""
    """``azr.selfplay.rewards.Outcome`` value: passable, wrong or format_error."""
    reason: str = ""
    """Why it was not passable (parse or sandbox reason); empty when it was."""
    task: dict | None = None
    """The task as ``to_dict`` (proposer: the valid proposal, None when invalid; solver: the
    task solved)."""
    correct: bool = False
    """Solver: the answer was verified correct."""
    solve_rate: float | None = None
    """Proposer: the estimated solve rate of the valid proposal (None when invalid)."""
    explore: bool = False
    """Drawn by the behaviour sampler of exploration mixing."""
    off_policy: bool = False
    """Sampled from another distribution than the policy at the rollout temperature (explored
    rows, proposer rows at another temperature): the update reweights it."""
    reward_before_diversity: float | None = None
    """The reward before the near-duplicate penalty (set only when the penalty is on)."""

    def record(self) -> dict:
        """The facts above as one JSON-ready mapping (the sample logs' fields)."""
        out: dict = {"outcome": self.outcome}
        if self.role is Role.PROPOSE:
            out.update(reason=self.reason, solve_rate=self.solve_rate)
        else:
            out.update(correct=self.correct, reason=self.reason)
        out.update(task=self.task, explore=self.explore, off_policy=self.off_policy)
        if self.reward_before_diversity is not None:
            out["reward_before_diversity"] = self.reward_before_diversity
        return out

    @property
    def group(self) -> tuple[TaskType, Role]:
        return (self.task_type, self.role)

    @property
    def group_id(self) -> int:
        """Index of the (task, role) group in ``GROUPS`` (for task-relative advantages)."""
        return GROUPS.index(self.group)
