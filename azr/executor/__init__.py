"""Torch-free sandboxed execution of model-written Python: pool, checks, validation, verification.

- ``Sandbox(ExecutorConfig(...)).run([Job(code, expr)]) -> [ExecResult]`` (``sandbox.py``)
- ``check_program`` / ``check_input``: static filters for the reward (``checks.py``)
- ``validate(sandbox, [Proposal])`` -> ``[Validation]`` (``validation.py``)
- ``verify(sandbox, [VerifyRequest])`` / ``verify_deduction`` -> ``Verdict`` (``verification.py``);
  deduction and abduction answers are data (``literals.parse_literal`` / ``parse_arguments``)
"""

from azr.executor.checks import CheckResult, check_input, check_program
from azr.executor.config import ExecutorConfig
from azr.executor.literals import literal_equal, parse_arguments, parse_literal
from azr.executor.sandbox import STATUSES, ExecResult, Job, Sandbox, SandboxError
from azr.executor.validation import (
    Proposal,
    Validation,
    ValidationLimits,
    validate,
    validate_induction,
    validate_triplets,
)
from azr.executor.verification import (
    Verdict,
    VerifyRequest,
    verify,
    verify_abduction,
    verify_deduction,
    verify_induction,
)

__all__ = [
    "STATUSES",
    "CheckResult",
    "ExecResult",
    "ExecutorConfig",
    "Job",
    "Proposal",
    "Sandbox",
    "SandboxError",
    "Validation",
    "ValidationLimits",
    "Verdict",
    "VerifyRequest",
    "check_input",
    "check_program",
    "literal_equal",
    "parse_arguments",
    "parse_literal",
    "validate",
    "validate_induction",
    "validate_triplets",
    "verify",
    "verify_abduction",
    "verify_deduction",
    "verify_induction",
]
