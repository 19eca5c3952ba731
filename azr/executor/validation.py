"""Batched validation of proposed tasks: does (program, inputs) make a valid task, and what
are its outputs?

A proposal is valid when: the program passes the static checks (``checks.check_program``);
every input is an argument list of literals; in the sandbox, ``f(<input>)`` returns within
the time limit; two calls in one process give the same ``repr``; the value round-trips
through the safe parser (``literals.parse_literal(repr(v)) == v``); its repr fits the size cap; and a second run in
a *different* worker process (different hash seed, different memory layout) gives an equal
value. Every rejection carries a short reason code and a detail.

Reason codes: ``syntax_error``, ``missing_function:f``, ``program_too_long``,
``forbidden_import:<m>``, ``forbidden_call:<n>``, ``forbidden_name:<n>``,
``forbidden_attribute:<a>``, ``relative_import``, ``no_inputs``, ``input_*``
(from ``checks.check_input``), ``timeout``, ``memory_limit``, ``killed``,
``runtime_error:<ExceptionType>``, ``nondeterministic``, ``output_not_literal``,
``output_too_large``, ``bad_report`` (the program's process sent a malformed report),
``sandbox_error``.

Outputs are accepted when every part of the value is of a type whose ``repr`` the safe
parser of ``azr.executor.literals`` reads back to an equal value: literals, and also
``Counter``/``OrderedDict``/``deque``/``Fraction``/``Decimal``/``range``/``frozenset`` ...
(as AZR accepts them); other objects are rejected with the type named in the detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from azr.executor.checks import CallArgs, check_input, check_program
from azr.executor.literals import explain_literal, literal_equal, parse_literal
from azr.executor.sandbox import ExecResult, Job, Sandbox


@dataclass(frozen=True)
class ValidationLimits:
    """Size caps and switches of proposal validation."""

    max_program_chars: int = 20_000
    """Longest accepted program source."""
    max_input_chars: int = 5_000
    """Longest accepted input (argument list source)."""
    max_output_chars: int = 5_000
    """Longest accepted output ``repr``."""
    cross_process: bool = True
    """Also run the program in a second worker process and require an equal value."""
    entry: str = "f"
    """Name of the function the program must define."""
    literal_inputs: bool = False
    """Require inputs to be literals; otherwise expressions that pass the static checks
    (``range(5)``, ``lambda x: x``) are accepted, as in AZR and CRUXEval."""


@dataclass(frozen=True)
class Proposal:
    """A program and the inputs to run it on (one for deduction/abduction, N for induction)."""

    program: str
    inputs: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            raise TypeError("Proposal.inputs must be a sequence of input strings, not one string")
        object.__setattr__(self, "inputs", tuple(self.inputs))


@dataclass(frozen=True)
class Validation:
    """Outcome of validating one proposal. ``outputs[i]`` is ``repr(f(<inputs[i]>))``."""

    valid: bool
    reason: str = ""
    detail: str = ""
    outputs: tuple[str, ...] | None = None

    @property
    def output(self) -> str | None:
        """The single output of a deduction/abduction proposal (``None`` otherwise)."""
        return self.outputs[0] if self.outputs is not None and len(self.outputs) == 1 else None


def _reject(reason: str, detail: str = "") -> Validation:
    return Validation(False, reason, detail[:500])


# The probe runs after the program, in its module namespace, inside the sandbox. For each
# input it calls f twice on freshly built arguments and reports ("ok", repr1, repr2, problem)
# or ("error", exception type, message). ``__azr_output_problem__`` is put there by the worker
# (``literals.output_problem``). The report is checked strictly by ``read_probe_report``.
_PROBE = '''

def __azr_probe__(__calls, __check=__azr_output_problem__):
    import builtins as __b
    __out = []
    for __call in __calls:
        try:
            __v1 = __call()
            __v2 = __call()
            __r1, __r2 = __b.repr(__v1), __b.repr(__v2)
            __problem = __check(__v1, __r1)
        except BaseException as __e:
            __out.append(("error", __b.type.__dict__["__name__"].__get__(__b.type(__e)), __b.str(__e)[:300]))
            continue
        __out.append(("ok", __r1, __r2, __problem))
    return __out
'''


def read_probe_report(text: str | None, n_inputs: int) -> list[tuple] | None:
    """The probe's report as a list of ``("ok", repr1, repr2, problem)`` /
    ``("error", type, message)`` tuples, or ``None`` when it is malformed in any way
    (written by the program's process, so it is checked like any untrusted input)."""
    ok, report = parse_literal(text or "", max_chars=1 << 24)
    if not ok or type(report) is not list or len(report) != n_inputs:
        return None
    for item in report:
        if type(item) is not tuple or not item:
            return None
        if item[0] == "ok":
            if not (len(item) == 4 and type(item[1]) is str and type(item[2]) is str
                    and (item[3] is None or type(item[3]) is str)):
                return None
        elif not (item[0] == "error" and len(item) == 3 and type(item[1]) is str and type(item[2]) is str):
            return None
    return report


def probe_job(program: str, args: Sequence[CallArgs], *, entry: str = "f", replica: int | None = None,
              timeout_s: float | None = None) -> Job:
    """The sandbox job that runs ``program`` on checked argument lists ``args``."""
    calls = ", ".join(f"(lambda: {entry}({a.source}))" for a in args)
    return Job(code=program + _PROBE, expr=f"__azr_probe__([{calls}])", timeout_s=timeout_s, replica=replica)


def result_failure(res: ExecResult) -> Validation | None:
    """Map a non-ok sandbox result to a rejection (``None`` when the run was ok)."""
    if res.status == "ok":
        return None
    if res.status == "timeout":
        return _reject("timeout", res.error_message or "")
    if res.status == "memory":
        return _reject("memory_limit", res.error_message or "")
    if res.status == "killed":
        return _reject("killed", res.error_message or "")
    if res.error_type == "OutputTooLarge":
        return _reject("output_too_large", res.error_message or "")
    if res.error_type == "SandboxSetupError":
        return _reject("sandbox_error", res.error_message or "")
    return _reject(probe_error_reason(res.error_type or "Exception"), res.error_message or "")


def probe_error_reason(error_type: str) -> str:
    """Reason code of an exception raised by ``f`` inside the probe (the type name is the
    program's choice: kept to identifier characters)."""
    if error_type == "MemoryError":
        return "memory_limit"
    name = "".join(c for c in error_type[:80] if c.isascii() and (c.isalnum() or c == "_")) or "Exception"
    return f"runtime_error:{name}"


def _interpret(res: ExecResult, n_inputs: int, limits: ValidationLimits) -> Validation:
    """Turn one probe run into a Validation (outputs as reprs, each one a parseable value)."""
    failure = result_failure(res)
    if failure is not None:
        return failure
    report = read_probe_report(res.value, n_inputs)
    if report is None:
        return _reject("bad_report", "the program's process returned a malformed report")
    outputs = []
    for i, item in enumerate(report):
        if item[0] == "error":
            return _reject(probe_error_reason(item[1]), f"input {i}: {item[2]}")
        _, r, r2, problem = item
        if len(r) > limits.max_output_chars:
            return _reject("output_too_large", f"input {i}: repr has {len(r)} > {limits.max_output_chars} characters")
        if problem is not None:
            return _reject("output_not_literal", f"input {i}: {problem[:100]}: {r[:200]}")
        if not parse_literal(r, max_chars=limits.max_output_chars)[0]:
            return _reject("output_not_literal", f"input {i}: {explain_literal(r)[:100]}: {r[:200]}")
        if r != r2:
            return _reject("nondeterministic", f"input {i}: two calls in one process differ")
        outputs.append(r)
    return Validation(True, "", "", tuple(outputs))


def _interpret_safely(res: ExecResult, n_inputs: int, limits: ValidationLimits) -> Validation:
    try:
        return _interpret(res, n_inputs, limits)
    except (RecursionError, MemoryError, ValueError, TypeError) as e:  # one job's report only
        return _reject("bad_report", type(e).__name__)


def validate(
    sandbox: Sandbox,
    proposals: Sequence[Proposal],
    limits: ValidationLimits = ValidationLimits(),
    timeout_s: float | None = None,
) -> list[Validation]:
    """Validate proposals in one batch over the sandbox pool; one ``Validation`` each, in order."""
    results: list[Validation | None] = [None] * len(proposals)
    jobs: list[Job] = []
    owners: list[tuple[int, int]] = []  # (proposal index, n inputs) per pair of jobs
    n_runs = 2 if limits.cross_process else 1
    for k, prop in enumerate(proposals):
        try:
            check = check_program(prop.program, entry=limits.entry, max_chars=limits.max_program_chars)
        except (RecursionError, MemoryError, ValueError, TypeError) as e:  # never the whole batch
            results[k] = _reject("syntax_error", type(e).__name__)
            continue
        if not check.ok:
            results[k] = _reject(check.reason, check.detail)
            continue
        if not prop.inputs:
            results[k] = _reject("no_inputs", "a proposal needs at least one input")
            continue
        args: list[CallArgs] = []
        for i, text in enumerate(prop.inputs):
            parsed, icheck = check_input(text, literal_only=limits.literal_inputs, max_chars=limits.max_input_chars)
            if parsed is None:
                results[k] = _reject(icheck.reason, f"input {i}: {icheck.detail}")
                break
            args.append(parsed)
        if results[k] is not None:
            continue
        for replica in range(n_runs):
            jobs.append(probe_job(prop.program, args, entry=limits.entry, replica=replica, timeout_s=timeout_s))
        owners.append((k, len(args)))
    runs = sandbox.run(jobs) if jobs else []
    for j, (k, n) in enumerate(owners):
        first = _interpret_safely(runs[n_runs * j], n, limits)
        if first.valid and n_runs == 2:
            second = _interpret_safely(runs[n_runs * j + 1], n, limits)
            if not second.valid and second.reason in ("timeout", "memory_limit", "killed", "sandbox_error"):
                first = second  # a resource failure of the second run, not evidence of nondeterminism
            elif not second.valid:
                first = _reject("nondeterministic", f"second process: {second.reason} {second.detail}".strip())
            elif not _same_values(first.outputs, second.outputs):
                first = _reject("nondeterministic", "outputs differ between two processes")
        results[k] = first
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _same_values(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    if a is None or b is None or len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        okx, vx = parse_literal(x)
        oky, vy = parse_literal(y)
        if not (okx and oky and literal_equal(vx, vy)):
            return False
    return True


def validate_triplets(
    sandbox: Sandbox, items: Sequence[tuple[str, str]], limits: ValidationLimits = ValidationLimits()
) -> list[Validation]:
    """Deduction/abduction proposals: ``(program, input)`` pairs -> ``Validation.output``."""
    return validate(sandbox, [Proposal(p, (i,)) for p, i in items], limits)


def validate_induction(
    sandbox: Sandbox, items: Sequence[tuple[str, Sequence[str]]], limits: ValidationLimits = ValidationLimits()
) -> list[Validation]:
    """Induction proposals: ``(program, inputs)`` -> ``Validation.outputs`` (one per input)."""
    return validate(sandbox, [Proposal(p, tuple(ins)) for p, ins in items], limits)


__all__ = [
    "Proposal",
    "Validation",
    "ValidationLimits",
    "probe_error_reason",
    "probe_job",
    "result_failure",
    "validate",
    "validate_induction",
    "validate_triplets",
]
