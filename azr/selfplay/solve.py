"""The solver side of a step: solver prompts, grading answers in the sandbox, solve rates.

Grading parses the completion (strings only) and sends parsed answers to the sandbox
verifier (``azr.selfplay.env``); a completion that does not parse is a format error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from azr.rollout.types import Completion
from azr.selfplay.buffer import Task
from azr.selfplay.rewards import Outcome
from azr.tasks.parsing import parse_solution
from azr.tasks.prompts import solver_prompt
from azr.tasks.types import TaskType


@dataclass(frozen=True)
class Grade:
    """How one solver completion fared."""

    outcome: Outcome  # PASSABLE (the answer parsed) or FORMAT_ERROR
    correct: bool
    reason: str  # parse failure or verifier reason ("" when correct)
    answer: str = ""


def solver_prompts(task_type: TaskType, tasks: Sequence[Task], template_set: str = "reference") -> list[str]:
    """One solver prompt per task (``template_set``: ``selfplay.template_set``)."""
    return [solver_prompt(task_type, t, template_set=template_set) for t in tasks]


def grade(env, task_type: TaskType, tasks: Sequence[Task], completions: Sequence[Completion],
          answer_format: str = "reference") -> list[Grade]:
    """Grade ``completions[i]`` as an answer to ``tasks[i]`` (one sandbox batch);
    ``answer_format``: see ``azr.tasks.parsing`` (reference | lenient)."""
    if len(tasks) != len(completions):
        raise ValueError("one completion per task expected")
    parses = [parse_solution(task_type, c.text, answer_format=answer_format) for c in completions]
    todo = [i for i, p in enumerate(parses) if p.ok]
    verdicts = env.verify(task_type, [tasks[i] for i in todo], [parses[i].answer for i in todo])
    by_index = dict(zip(todo, verdicts))
    out = []
    for i, p in enumerate(parses):
        if not p.ok:
            out.append(Grade(Outcome.FORMAT_ERROR, False, p.reason))
        else:
            correct, reason = by_index[i]
            out.append(Grade(Outcome.PASSABLE, bool(correct), reason, p.answer))
    return out


def grade_many(env, items: Sequence[tuple[TaskType, Task, Completion]], answer_format: str = "reference") -> list[Grade]:
    """Grade a mixed list of (task type, task, completion), one sandbox batch per type."""
    out: list[Grade | None] = [None] * len(items)
    for t in TaskType:
        idx = [i for i, it in enumerate(items) if it[0] is t]
        if idx:
            for i, g in zip(idx, grade(env, t, [items[i][1] for i in idx], [items[i][2] for i in idx], answer_format)):
                out[i] = g
    return out  # type: ignore[return-value]


def solve_rates(grades_per_task: Sequence[Sequence[Grade]]) -> list[float]:
    """Mean correctness of each task's n samples (format errors count as unsolved)."""
    return [sum(g.correct for g in gs) / len(gs) if gs else 0.0 for gs in grades_per_task]
