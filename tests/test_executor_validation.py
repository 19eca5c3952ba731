"""Validation of proposals and verification of answers (batched, over a real sandbox)."""

from __future__ import annotations

import pytest

from azr.executor import (
    ExecutorConfig,
    Proposal,
    Sandbox,
    ValidationLimits,
    VerifyRequest,
    validate,
    validate_induction,
    validate_triplets,
    verify,
    verify_abduction,
    verify_deduction,
    verify_induction,
)
from azr.tasks import ZERO_TRIPLET


@pytest.fixture(scope="module")
def sb():
    with Sandbox(ExecutorConfig(workers=2, timeout_s=1.0)) as s:
        yield s


def test_zero_triplet_is_valid(sb):
    (v,) = validate_triplets(sb, [(ZERO_TRIPLET.program, ZERO_TRIPLET.input)])
    assert v.valid and v.reason == "" and v.output == ZERO_TRIPLET.output


def test_rejections_carry_reasons(sb):
    cases = {
        "syntax": ("def f(a)\n    return a", "1", "syntax_error"),
        "no_f": ("def g(a):\n    return a", "1", "missing_function:f"),
        "import": ("import random\ndef f(a):\n    return random.random()", "1", "forbidden_import:random"),
        "timeout": ("def f(a):\n    while True:\n        pass", "1", "timeout"),
        "memory": ("def f(a):\n    return len(bytearray(2 * 1024 ** 3))", "1", "memory_limit"),
        "raises": ("def f(a):\n    return a[10]", "[1]", "runtime_error:IndexError"),
        "stateful": ("CALLS = []\ndef f(a):\n    CALLS.append(a)\n    return len(CALLS)", "1", "nondeterministic"),
        "object": ("class C:\n    pass\ndef f(a):\n    return C()", "1", "output_not_literal"),
        "nan": ("def f(a):\n    return float('nan')", "1", "output_not_literal"),
        "too_big": ("def f(a):\n    return 'x' * 100000", "1", "output_too_large"),
        "bad_input": ("def f(a):\n    return a", "1); import os; (2", "input_syntax_error"),
        "exit": ("def f(a):\n    raise SystemExit(0)", "1", "runtime_error:SystemExit"),
    }
    res = validate_triplets(sb, [(p, i) for p, i, _ in cases.values()])
    for (name, (_, _, reason)), v in zip(cases.items(), res):
        assert not v.valid, name
        assert v.reason == reason, (name, v)
        assert v.output is None


def test_hash_randomisation_is_caught_across_processes(sb):
    # a set of strings: deterministic within one process, order differs across hash seeds
    prog = "def f(a):\n    return list(set(a))"
    (v,) = validate_triplets(sb, [(prog, "['apple', 'pear', 'fig', 'kiwi', 'plum', 'lime', 'date']")])
    assert not v.valid and v.reason == "nondeterministic"
    # the same value compared as a set is deterministic, even though its repr may differ
    (v,) = validate_triplets(sb, [("def f(a):\n    return set(a)", "['apple', 'pear', 'fig', 'kiwi']")])
    assert v.valid
    # without the cross-process run, the nondeterminism goes unnoticed
    (v,) = validate(sb, [Proposal(prog, ("['apple', 'pear', 'fig', 'kiwi', 'plum', 'lime', 'date']",))],
                    ValidationLimits(cross_process=False))
    assert v.valid


def test_inputs_are_not_mutated_between_the_two_calls(sb):
    prog = "def f(a):\n    a.append(1)\n    return a"
    (v,) = validate_triplets(sb, [(prog, "[0]")])
    assert v.valid and v.output == "[0, 1]"


def test_induction_outputs(sb):
    prog = "def f(a, b=1):\n    return a * b"
    (v,) = validate_induction(sb, [(prog, ["2", "3, b=2", "'x', 3"])])
    assert v.valid and v.outputs == ("2", "6", "'xxx'") and v.output is None
    (v,) = validate_induction(sb, [(prog, [])])
    assert v.reason == "no_inputs"
    (v,) = validate_induction(sb, [(prog, ["2", "'a', 'b'"])])
    assert v.reason == "runtime_error:TypeError" and "input 1" in v.detail


def test_literal_inputs_option(sb):
    prog = "def f(a):\n    return sum(a)"
    assert validate(sb, [Proposal(prog, ("range(4)",))])[0].output == "6"
    v = validate(sb, [Proposal(prog, ("range(4)",))], ValidationLimits(literal_inputs=True))[0]
    assert v.reason == "input_not_literal"


def test_deduction_is_value_equality_without_eval():
    assert verify_deduction("[1, 2]", " [1,2] ").correct
    assert verify_deduction("1", "1.0").correct
    assert verify_deduction("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}").correct
    assert verify_deduction("{1, 2, 3}", "{3, 2, 1}").correct
    assert verify_deduction("(1, 2)", "[1, 2]").reason == "wrong_value"
    assert verify_deduction("'1'", "1").reason == "wrong_value"
    assert verify_deduction("1", "__import__('os').system('true')").reason == "answer_not_literal"
    assert verify_deduction("1", "x" * 200_000).reason == "answer_too_long"
    assert verify_deduction("<object at 0x1>", "1").reason == "bad_task"


def test_abduction_accepts_any_reproducing_input(sb):
    prog = "def f(a, b):\n    return a % 3 + b * 0"
    res = verify_abduction(sb, [(prog, "1", "4, 99"), (prog, "1", "1, 0"), (prog, "1", "2, 0"),
                                (prog, "1", "'a', 1"), (prog, "1", "__import__('os')")])
    assert [v.correct for v in res] == [True, True, False, False, False]
    assert res[2].reason == "wrong_value"
    assert res[3].reason == "runtime_error:TypeError"
    assert res[4].reason == "answer_not_literal"  # answers are data: an expression is never run


def test_induction_answer_must_reproduce_every_hidden_pair(sb):
    pairs = [("1, 2", "3"), ("5, 5", "10"), ("'a', 'b'", "'ab'")]
    res = verify_induction(sb, [
        ("def f(a, b):\n    return a + b", pairs),
        ("def f(a, b):\n    if a == 1:\n        return 3\n    return 10", pairs),
        ("import random\ndef f(a, b):\n    return a + b", pairs),
        ("def f(a, b):\n    while True: pass", pairs),
        ("def g(a, b):\n    return a + b", pairs),
    ])
    assert res[0].correct
    assert res[1].reason == "wrong_value" and "hidden pair 2" in res[1].detail
    assert res[2].reason == "forbidden_import:random"
    assert res[3].reason == "timeout"
    assert res[4].reason == "missing_function:f"


def test_mixed_batch(sb):
    reqs = [
        VerifyRequest("deduction", answer="3", output="3"),
        VerifyRequest("abduction", answer="3", program="def f(a):\n    return a", output="3"),
        VerifyRequest("induction", answer="def f(a):\n    return a", pairs=(("3", "3"),)),
        VerifyRequest("bogus", answer="3"),
    ]
    assert [v.correct for v in verify(sb, reqs)] == [True, True, True, False]


@pytest.mark.parametrize("body", ["id(a) % 1000", "hash(a) % 1000", "hash(str(a)) % 1000", "object().__hash__() % 97"])
def test_process_dependent_values_are_nondeterministic(sb, body):
    (v,) = validate_triplets(sb, [(f"def f(a):\n    return {body}", "'abc'")])
    assert not v.valid and v.reason == "nondeterministic"
