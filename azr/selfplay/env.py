"""The code-reasoning environment as the trainer sees it: validation and verification in the
sandbox (``azr.executor``), shaped for the self-play step.

Everything the model wrote is executed only inside the sandbox; this process only handles
strings and the sandbox's reports. Any executor failure (timeout, crash, hostile program,
a worker that dies) becomes an invalid proposal or a wrong answer, never an exception.

Induction proposals (``induction_rule``):

- ``"reference"`` (default; ``absolute_zero_reasoner/rewards/reward_managers.py``, branch
  ``paper``, ``gen_code_f``): the proposer must write at least N inputs; the last N are kept
  as written (no de-duplication), every one of them must pass validation or the whole
  proposal is invalid, and the first N // 2 pairs are shown to the solver (5 of 10), the
  rest hidden.
- ``"lenient"`` (azr's earlier rule): the first N distinct inputs are validated one by one,
  failing ones are dropped, the proposal is valid when at least ``min_pairs`` remain, and
  half the pairs (rounded up) are visible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from azr.executor.checks import check_input, check_program
from azr.executor.validation import Proposal, Validation, validate
from azr.executor.verification import VerifyRequest, verify
from azr.selfplay.buffer import Task
from azr.selfplay.propose import dedupe_inputs, make_induction, make_triplet, reference_inputs
from azr.tasks.parsing import ProposalParse
from azr.tasks.types import InductionTask, TaskType, Triplet

log = logging.getLogger(__name__)

INDUCTION_RULES: tuple[str, ...] = ("reference", "lenient")
STATIC_RULES: tuple[str, ...] = ("reference", "strict")

ProposalItem = tuple[TaskType, ProposalParse, "str | None"]
"""(task type, parsed proposal, the described program for induction else None)."""


class CodeEnv:
    """Validation and verification over one warm ``Sandbox``."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def _validate(self, proposals: list[Proposal]):
        if not proposals:
            return []
        try:
            return validate(self.sandbox, proposals)
        except Exception as e:  # the executor must never stop training
            log.warning("sandbox validation failed for a batch of %d: %r", len(proposals), e)
            return [None] * len(proposals)

    def _validate_strict(self, proposals: list[Proposal]):
        """``_validate`` behind the "strict" static rules (rejections need no sandbox run)."""
        out: list = [None] * len(proposals)
        todo = []
        for k, prop in enumerate(proposals):
            res = check_program(prop.program, rules="strict")
            for inp in prop.inputs:
                if res.ok:
                    res = check_input(inp, rules="strict")[1]
            if res.ok:
                todo.append(k)
            else:
                out[k] = Validation(False, res.reason, res.detail)
        for k, res in zip(todo, self._validate([proposals[k] for k in todo])):
            out[k] = res
        return out

    def validate_proposals(self, items: Sequence[ProposalItem], *, n_inputs: int, min_pairs: int,
                           induction_rule: str = "reference", static_rules: str = "reference",
                           ) -> list[tuple[Task | None, str]]:
        """For each item, ``(task, "")`` when valid, else ``(None, reason)``.

        ``static_rules``: "reference" (the sandbox validation's own checks,
        ``azr.executor.checks.RULES["reference"]``) or "strict" (azr's earlier module list and
        no starred inputs, checked here first, on top of the reference rules)."""
        if static_rules not in STATIC_RULES:
            raise ValueError(f"unknown static rules {static_rules!r}; known: {STATIC_RULES}")
        if induction_rule not in INDUCTION_RULES:
            raise ValueError(f"unknown induction rule {induction_rule!r}; known: {INDUCTION_RULES}")
        reference = induction_rule == "reference"
        out: list[tuple[Task | None, str]] = [(None, "")] * len(items)
        jobs: list[Proposal] = []
        owners: list[tuple[int, str]] = []  # (item index, input) per job
        for k, (task_type, parse, program) in enumerate(items):
            if not parse.ok:
                out[k] = (None, parse.reason)
            elif task_type is TaskType.INDUCTION:
                if not program:
                    out[k] = (None, "no_program")
                    continue
                if reference and len(parse.inputs) < n_inputs:
                    out[k] = (None, f"too_few_inputs:{len(parse.inputs)}<{n_inputs}")
                    continue
                chosen = reference_inputs(parse.inputs, n_inputs) if reference else dedupe_inputs(parse.inputs, n_inputs)
                for inp in chosen:
                    jobs.append(Proposal(program, (inp,)))
                    owners.append((k, inp))
            else:
                jobs.append(Proposal(parse.program, (parse.input,)))
                owners.append((k, parse.input))
        results = self._validate(jobs) if static_rules == "reference" else self._validate_strict(jobs)
        good: dict[int, list[tuple[str, str]]] = {}
        reasons: dict[int, str] = {}
        for (k, inp), res in zip(owners, results):
            if res is not None and res.valid:
                good.setdefault(k, []).append((inp, res.outputs[0]))
            else:
                reasons.setdefault(k, res.reason if res is not None else "sandbox_error")
        for k, (task_type, parse, program) in enumerate(items):
            if not parse.ok or out[k][1]:
                continue
            pairs = good.get(k, [])
            if task_type is TaskType.INDUCTION:
                if reference and (k in reasons or not pairs):  # one failing input invalidates it
                    out[k] = (None, reasons.get(k, "no_inputs"))
                elif reference:
                    ins, outs = zip(*pairs)
                    out[k] = (make_induction(program, ins, outs, parse.message, n_visible=len(pairs) // 2), "")
                elif len(pairs) >= min_pairs:
                    ins, outs = zip(*pairs)
                    out[k] = (make_induction(program, ins, outs, parse.message), "")
                elif program:
                    out[k] = (None, reasons.get(k) or f"too_few_inputs:{len(pairs)}<{min_pairs}")
            elif pairs:
                out[k] = (make_triplet(parse, pairs[0][1]), "")
            else:
                out[k] = (None, reasons.get(k, "invalid"))
        return out

    def verify(self, task_type: TaskType, tasks: Sequence[Task], answers: Sequence[str]) -> list[tuple[bool, str]]:
        """``(correct, reason)`` of each answer to its task."""
        requests = [self._request(task_type, t, a) for t, a in zip(tasks, answers)]
        if not requests:
            return []
        try:
            return [(v.correct, v.reason) for v in verify(self.sandbox, requests)]
        except Exception as e:  # the executor must never stop training
            log.warning("sandbox verification failed for a batch of %d: %r", len(requests), e)
            return [(False, "sandbox_error")] * len(requests)

    @staticmethod
    def _request(task_type: TaskType, task: Task, answer: str) -> VerifyRequest:
        if task_type is TaskType.INDUCTION:
            assert isinstance(task, InductionTask)
            return VerifyRequest("induction", answer=answer, pairs=task.hidden)
        assert isinstance(task, Triplet)
        if task_type is TaskType.DEDUCTION:
            return VerifyRequest("deduction", answer=answer, output=task.output)
        return VerifyRequest("abduction", answer=answer, program=task.program, output=task.output)
