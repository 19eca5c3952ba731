"""Batched verification of solver answers (the solver reward is ``Verdict.correct``).

- deduction: the answer is an output; correct when it equals the gold output *as a value*
  (both parsed with ``ast.literal_eval``, compared with Python ``==``: ``1 == 1.0``,
  ``'1' != 1``). Nothing is evaluated; no sandbox needed.
- abduction: the answer is an input; ``f(<answer>)`` runs in the sandbox and is correct when
  its value equals the gold output (any input that reproduces it counts).
- induction: the answer is a program; it must pass the static checks and reproduce every
  hidden (input, output) pair, run in the sandbox.

Reasons: ``correct``, ``wrong_value``, ``answer_not_literal``, ``answer_too_long``,
``output_not_literal``, ``bad_task`` (the gold data itself is unusable), the static-check
codes of ``checks.check_program`` for induction answers, and the run failures of
``validation.result_failure`` (``timeout``, ``runtime_error:<Type>``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from azr.executor.checks import CallArgs, check_input, check_program
from azr.executor.literals import MAX_LITERAL_CHARS, literal_equal, parse_literal
from azr.executor.sandbox import ExecResult, Job, Sandbox
from azr.executor.validation import probe_error_reason, probe_job, result_failure


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is correct, with a short reason code and a detail."""

    correct: bool
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class VerifyRequest:
    """One answer to verify. Fields used per task type:

    - deduction: ``output`` (gold) and ``answer`` (an output);
    - abduction: ``program``, ``output`` (gold) and ``answer`` (an input);
    - induction: ``pairs`` (the hidden (input, output) pairs) and ``answer`` (a program).
    """

    task_type: str
    answer: str
    program: str = ""
    output: str = ""
    pairs: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_type", str(getattr(self.task_type, "value", self.task_type)))
        object.__setattr__(self, "pairs", tuple((str(i), str(o)) for i, o in self.pairs))


def _wrong(reason: str, detail: str = "") -> Verdict:
    return Verdict(False, reason, detail[:500])


def _compare(gold: str, got: str, what: str = "") -> Verdict:
    """Value comparison of a gold repr with a produced/answered repr."""
    ok_g, g = parse_literal(gold)
    if not ok_g:
        return Verdict(True, "correct") if gold.strip() == got.strip() else _wrong("wrong_value", f"{what}gold is not a literal; reprs differ")
    ok_v, v = parse_literal(got)
    if not ok_v:
        return _wrong("output_not_literal", f"{what}{got[:200]}")
    return Verdict(True, "correct") if literal_equal(g, v) else _wrong("wrong_value", f"{what}expected {gold[:100]}, got {got[:100]}")


def verify_deduction(gold_output: str, answer: str, max_chars: int = MAX_LITERAL_CHARS) -> Verdict:
    """Deduction: ``answer`` (an output literal) equals ``gold_output`` by value."""
    if not isinstance(answer, str):
        return _wrong("answer_not_literal", f"answer is a {type(answer).__name__}")
    if len(answer) > max_chars:
        return _wrong("answer_too_long", f"{len(answer)} > {max_chars} characters")
    ok_a, a = parse_literal(answer, max_chars)
    if not ok_a:
        return _wrong("answer_not_literal", answer[:200])
    ok_g, g = parse_literal(gold_output)
    if not ok_g:
        return _wrong("bad_task", "gold output is not a literal")
    return Verdict(True, "correct") if literal_equal(a, g) else _wrong("wrong_value", f"expected {gold_output[:100]}, got {answer[:100]}")


def verify(
    sandbox: Sandbox,
    requests: Sequence[VerifyRequest],
    timeout_s: float | None = None,
    literal_answers: bool = False,
) -> list[Verdict]:
    """Verify a mixed batch of answers; sandbox runs go out in one concurrent batch.

    ``literal_answers``: abduction answers must be literals (otherwise expressions passing
    the static input checks are accepted, as CRUXEval's gold inputs need)."""
    verdicts: list[Verdict | None] = [None] * len(requests)
    jobs: list[Job] = []
    pending: list[tuple[int, VerifyRequest]] = []
    for k, req in enumerate(requests):
        if req.task_type == "deduction":
            verdicts[k] = verify_deduction(req.output, req.answer)
            continue
        job_or_verdict = _build_job(req, timeout_s, literal_answers)
        if isinstance(job_or_verdict, Verdict):
            verdicts[k] = job_or_verdict
        else:
            jobs.append(job_or_verdict)
            pending.append((k, req))
    runs = sandbox.run(jobs) if jobs else []
    for (k, req), res in zip(pending, runs):
        verdicts[k] = _judge(req, res)
    assert all(v is not None for v in verdicts)
    return verdicts  # type: ignore[return-value]


def _build_job(req: VerifyRequest, timeout_s: float | None, literal_answers: bool) -> Job | Verdict:
    if req.task_type == "abduction":
        if not isinstance(req.answer, str):
            return _wrong("answer_not_literal", "answer is not a string")
        args, check = check_input(req.answer, literal_only=literal_answers)
        if args is None:
            return _wrong(f"answer_{check.reason}", check.detail)
        return Job(code=req.program, expr=f"f({args.source})", timeout_s=timeout_s)
    if req.task_type == "induction":
        if not req.pairs:
            return _wrong("bad_task", "no hidden pairs")
        check = check_program(req.answer)
        if not check.ok:
            return _wrong(check.reason, check.detail)
        args: list[CallArgs] = []
        for i, (inp, _) in enumerate(req.pairs):
            parsed, icheck = check_input(inp)
            if parsed is None:
                return _wrong("bad_task", f"hidden input {i}: {icheck.reason}")
            args.append(parsed)
        return probe_job(req.answer, args, timeout_s=timeout_s)
    return _wrong("bad_task", f"unknown task type {req.task_type!r}")


def _judge(req: VerifyRequest, res: ExecResult) -> Verdict:
    failure = result_failure(res)
    if failure is not None:
        return _wrong(failure.reason, failure.detail)
    if req.task_type == "abduction":
        return _compare(req.output, res.value or "")
    ok, report = parse_literal(res.value or "", max_chars=1 << 24)
    if not ok or not isinstance(report, list) or len(report) != len(req.pairs):
        return _wrong("sandbox_error", "malformed probe report")
    for i, ((_, gold), item) in enumerate(zip(req.pairs, report)):
        if not (isinstance(item, tuple) and item and item[0] in ("ok", "error")):
            return _wrong("sandbox_error", "malformed probe report")
        if item[0] == "error":
            return _wrong(probe_error_reason(item[1]), f"hidden pair {i}: {item[2]}")
        verdict = _compare(gold, item[1], what=f"hidden pair {i}: ")
        if not verdict.correct:
            return verdict
    return Verdict(True, "correct")


def verify_abduction(sandbox: Sandbox, items: Sequence[tuple[str, str, str]]) -> list[Verdict]:
    """``(program, gold_output, answer_input)`` triples -> verdicts."""
    return verify(sandbox, [VerifyRequest("abduction", answer=a, program=p, output=o) for p, o, a in items])


def verify_induction(sandbox: Sandbox, items: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[Verdict]:
    """``(answer_program, hidden_pairs)`` -> verdicts."""
    return verify(sandbox, [VerifyRequest("induction", answer=a, pairs=tuple(ps)) for a, ps in items])
