"""Batched verification of solver answers (the solver reward is ``Verdict.correct``).

Answers are data: deduction and abduction answers are parsed in this (the supervising)
process by the safe parser of ``azr.executor.literals`` and never run as code.

- deduction: the answer is an output; correct when it equals the gold output *as a value*
  (both parsed, compared with ``literals.literal_equal``: ``1 == 1.0``, ``'1' != 1``).
  Nothing runs; no sandbox needed.
- abduction: the answer is an argument list of values; it is parsed here and handed to the
  sandbox as a ``Job.call_args`` text that the worker parses again with the same safe
  parser before the (proposer's) program runs; correct when ``f(*args, **kwargs)`` equals
  the gold output, compared here. The gold output never enters the sandbox.
- induction: the answer is a program; it must pass the static checks and reproduce every
  hidden (input, output) pair, run in the sandbox; the hidden outputs never enter it.

``verify(..., code_answers=True)`` is the one opt-in exception, for benchmark protocols
whose gold inputs are expressions (CRUXEval-I: 11 of 800 use a ``lambda`` or a method
call): an abduction answer that is not plain data then runs as an expression (after the
static input checks) in the program's process, which it could take over. Never used in
training.

Reasons: ``correct``, ``wrong_value``, ``answer_not_literal``, ``answer_too_long``,
``output_not_literal``, ``bad_task`` (the gold data itself is unusable), the static-check
codes of ``checks.check_program`` for induction answers, and the run failures of
``validation.result_failure`` (``timeout``, ``runtime_error:<Type>``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from azr.executor.checks import CallArgs, check_input, check_program
from azr.executor.literals import MAX_LITERAL_CHARS, explain_literal, literal_equal, parse_arguments, parse_literal
from azr.executor.sandbox import ExecResult, Job, Sandbox
from azr.executor.validation import probe_error_reason, probe_job, read_probe_report, result_failure


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
    """Value comparison of a gold repr with a produced repr (both parsed, never evaluated)."""
    ok_g, g = parse_literal(gold)
    if not ok_g:
        return _wrong("bad_task", f"{what}gold output is not a plain value")
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
    code_answers: bool = False,
) -> list[Verdict]:
    """Verify a mixed batch of answers; sandbox runs go out in one concurrent batch.

    ``code_answers``: accept abduction answers that are not plain data as expressions (see
    the module docstring); off by default, and off in training."""
    verdicts: list[Verdict | None] = [None] * len(requests)
    jobs: list[Job] = []
    pending: list[tuple[int, VerifyRequest]] = []
    for k, req in enumerate(requests):
        if req.task_type == "deduction":
            verdicts[k] = verify_deduction(req.output, req.answer)
            continue
        try:
            job_or_verdict = _build_job(req, timeout_s, code_answers)
        except (RecursionError, MemoryError, ValueError, TypeError) as e:  # never the whole batch
            job_or_verdict = _wrong("bad_task", f"{type(e).__name__}")
        if isinstance(job_or_verdict, Verdict):
            verdicts[k] = job_or_verdict
        else:
            jobs.append(job_or_verdict)
            pending.append((k, req))
    runs = sandbox.run(jobs) if jobs else []
    for (k, req), res in zip(pending, runs):
        try:
            verdicts[k] = _judge(req, res)
        except (RecursionError, MemoryError, ValueError, TypeError) as e:  # never the whole batch
            verdicts[k] = _wrong("bad_report", type(e).__name__)
    assert all(v is not None for v in verdicts)
    return verdicts  # type: ignore[return-value]


def abduction_job(program: str, answer: str, timeout_s: float | None = None) -> Job | Verdict:
    """The sandbox job that calls ``program``'s ``f`` on an abduction answer *as data*, or
    a wrong Verdict when the answer is not an argument list of plain values."""
    if not isinstance(answer, str):
        return _wrong("answer_not_literal", "answer is not a string")
    if len(answer) > MAX_LITERAL_CHARS:
        return _wrong("answer_too_long", f"{len(answer)} > {MAX_LITERAL_CHARS} characters")
    ok, parsed = parse_arguments(answer)
    if not ok:
        why = parsed if parsed in ("starred", "not_arguments") else explain_literal(f"({answer}\n,)")
        return _wrong("answer_not_literal", f"{why}: {answer[:200]}")
    try:
        text = repr(parsed)
    except Exception as e:  # noqa: BLE001 - a value whose repr fails is this answer's problem only
        return _wrong("answer_not_literal", type(e).__name__)
    return Job(code=program, call_args=text, timeout_s=timeout_s)


def _build_job(req: VerifyRequest, timeout_s: float | None, code_answers: bool) -> Job | Verdict:
    if req.task_type == "abduction":
        job = abduction_job(req.program, req.answer, timeout_s)
        if isinstance(job, Job) or not code_answers or job.reason != "answer_not_literal":
            return job
        args, check = check_input(req.answer)
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
    report = read_probe_report(res.value, len(req.pairs))
    if report is None:
        return _wrong("bad_report", "the answer program's process returned a malformed report")
    for i, ((_, gold), item) in enumerate(zip(req.pairs, report)):
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
