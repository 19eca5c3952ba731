"""The proposer side of a step: reference sampling, prompts, and turning parsed, validated
proposals into tasks.

Deduction/abduction proposers see K reference triplets drawn from their own buffer; the
induction proposer sees one program drawn from the deduction and abduction buffers. What
the model wrote is only parsed here (strings); it is validated in the sandbox by
``azr.selfplay.env`` and never evaluated in this process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from azr.selfplay.buffer import Buffers
from azr.tasks.parsing import ProposalParse
from azr.tasks.prompts import proposer_prompt
from azr.tasks.types import InductionTask, TaskType, Triplet


@dataclass(frozen=True)
class ProposerPrompt:
    """One proposer prompt and what it was built from."""

    task_type: TaskType
    prompt: str
    references: tuple[Triplet, ...]  # induction: one triplet whose .program is described


def reference_sets(buffers: Buffers, task_type: TaskType, n: int, k: int, rng: random.Random) -> list[tuple[Triplet, ...]]:
    """``n`` reference sets: K distinct triplets of the type's buffer (deduction/abduction), or
    one program of the deduction/abduction buffers wrapped as a triplet (induction)."""
    if task_type is TaskType.INDUCTION:
        programs = buffers.programs()
        if not programs:
            raise ValueError("no program to describe: the deduction/abduction buffers are empty")
        return [(Triplet(programs[rng.randrange(len(programs))], "", ""),) for _ in range(n)]
    buf = buffers[task_type]
    if not len(buf):
        raise ValueError(f"the {task_type} buffer is empty: seed it first")
    return [tuple(e.task for e in buf.sample_distinct(k, rng)) for _ in range(n)]


def proposer_prompts(buffers: Buffers, task_type: TaskType, n: int, k: int, n_inputs: int,
                     rng: random.Random, template_set: str = "reference") -> list[ProposerPrompt]:
    """``n`` proposer prompts of ``task_type`` (``template_set``: ``selfplay.template_set``)."""
    return [
        ProposerPrompt(task_type, proposer_prompt(task_type, refs, n_inputs=n_inputs, template_set=template_set), refs)
        for refs in reference_sets(buffers, task_type, n, k, rng)
    ]


def dedupe_inputs(inputs: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """The first ``limit`` distinct (stripped) inputs, in order."""
    out: dict[str, None] = {}
    for i in inputs:
        i = i.strip()
        if i:
            out.setdefault(i, None)
    return tuple(out)[:limit]


def reference_inputs(inputs: tuple[str, ...], n: int) -> tuple[str, ...]:
    """The reference's choice of induction inputs: the last ``n`` as written (stripped),
    duplicates kept; fewer than ``n`` makes the proposal invalid (checked by the caller)."""
    return tuple(i.strip() for i in inputs)[-n:] if n > 0 else ()


def make_triplet(parse: ProposalParse, output: str) -> Triplet:
    """The deduction/abduction task of a validated proposal (output computed in the sandbox)."""
    return Triplet(program=parse.program, input=parse.input, output=output)


def make_induction(program: str, inputs: tuple[str, ...], outputs: tuple[str, ...], message: str,
                   n_visible: int = -1) -> InductionTask:
    """The induction task of a validated proposal: the first ``n_visible`` pairs visible
    (-1: half, rounded up; the reference rule passes ``len // 2``: 5 of 10)."""
    if len(inputs) != len(outputs):
        raise ValueError("inputs and outputs differ in length")
    return InductionTask(program=program, pairs=tuple(zip(inputs, outputs)), message=message, n_visible=n_visible)


def check_proposals(env, prompts: list[ProposerPrompt], parses: list[ProposalParse], sp) -> list:
    """Validate the parsed proposals of ``prompts`` in the sandbox (``env.validate_proposals``;
    an induction proposal is checked against the program its prompt showed). ``sp``: the
    ``SelfPlayConfig``. Returns ``(task or None, reason)`` per proposal."""
    return env.validate_proposals(
        [(p.task_type, q, p.references[0].program if p.task_type is TaskType.INDUCTION else None)
         for p, q in zip(prompts, parses)],
        n_inputs=sp.n_induction_inputs, min_pairs=sp.min_induction_pairs, induction_rule=sp.induction_rule,
        static_rules=sp.static_rules,
    )
