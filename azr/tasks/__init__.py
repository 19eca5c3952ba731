"""Torch-free code-reasoning tasks: triplets, task types, prompts and answer parsers."""

from azr.tasks.types import (
    GROUPS,
    ROLES,
    TASK_TYPES,
    ZERO_TRIPLET,
    InductionTask,
    Role,
    TaskType,
    Triplet,
    group_name,
)

__all__ = [
    "GROUPS",
    "ROLES",
    "TASK_TYPES",
    "ZERO_TRIPLET",
    "InductionTask",
    "Role",
    "TaskType",
    "Triplet",
    "group_name",
]
