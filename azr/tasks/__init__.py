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
from azr.tasks.parsing import ProposalParse, SolutionParse, parse_proposal, parse_solution
from azr.tasks.prompts import proposer_prompt, render_proposal, render_solution, solver_prompt

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
    "ProposalParse",
    "SolutionParse",
    "parse_proposal",
    "parse_solution",
    "proposer_prompt",
    "render_proposal",
    "render_solution",
    "solver_prompt",
]
