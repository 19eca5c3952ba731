"""Plain records passed between the phases of a self-play step, and seed derivation."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from azr.rollout.types import Completion
from azr.tasks.types import GROUPS, Role, TaskType


def derive_seed(seed: int, step: int, tag: str) -> int:
    """A 63-bit seed that is a pure function of (run seed, step, phase tag).

    Every random choice of a step draws from such a seed, so a run resumed at step t makes
    exactly the choices an uninterrupted run makes (no RNG state to carry).
    """
    digest = hashlib.sha256(f"{seed}:{step}:{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def rng_for(seed: int, step: int, tag: str) -> random.Random:
    """A ``random.Random`` seeded with ``derive_seed(seed, step, tag)``."""
    return random.Random(derive_seed(seed, step, tag))


@dataclass
class Rollout:
    """One sampled completion that enters the policy update, with its reward.

    ``info`` carries what the metrics and sample logs need (parse reason, validity,
    correctness, estimated solve rate, ...).
    """

    task_type: TaskType
    role: Role
    prompt: str
    completion: Completion
    reward: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def group(self) -> tuple[TaskType, Role]:
        return (self.task_type, self.role)

    @property
    def group_id(self) -> int:
        """Index of the (task, role) group in ``GROUPS`` (for task-relative advantages)."""
        return GROUPS.index(self.group)
