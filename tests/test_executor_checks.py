"""Static checks: forbidden modules/calls/attributes (with aliasing), helpers allowed, inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from azr.executor.checks import check_input, check_program
from azr.executor.literals import literal_equal, parse_literal


def test_helpers_nested_defs_and_classes_are_allowed():
    # the reference code's "single def" regex rejected this; we must not
    code = (
        "def helper(x):\n    return x + 1\n\n"
        "class Box:\n    def __init__(self, v):\n        self.v = v\n\n"
        "def f(a):\n    def inner(b):\n        return helper(b) * 2\n"
        "    return [inner(i) for i in a] + [Box(1).v]\n"
    )
    assert check_program(code).ok


@pytest.mark.parametrize(
    "code, reason",
    [
        ("import os.path\ndef f(a): return a", "forbidden_import:os.path"),
        ("from os.path import join\ndef f(a): return a", "forbidden_import:os.path"),
        ("from os import environ\ndef f(a): return a", "forbidden_import:os.environ"),
        ("from sys import exit\ndef f(a): return a", "forbidden_import:sys.exit"),
        ("import logging as lg\ndef f(a): return a", "forbidden_import:logging"),
        ("from calendar import isleap\ndef f(a): return a", "forbidden_import:calendar"),
        ("import random\ndef f(a): return random.random()", "forbidden_import:random"),
        ("def f(a):\n    import time\n    return time.time()", "forbidden_import:time"),
        ("from datetime import datetime\ndef f(a): return a", "forbidden_import:datetime"),
        ("import hashlib, math\ndef f(a): return a", "forbidden_import:hashlib"),
        ("def f(a):\n    return a.input(1)", "forbidden_text:input("),
        ("def f(a):\n    # never call input(\n    return a", "forbidden_text:input("),
        ("import importlib\ndef f(a): return importlib.import_module('os')", "forbidden_import:importlib"),
        ("import subprocess\ndef f(a): return a", "forbidden_import:subprocess"),
        ("import ctypes\ndef f(a): return a", "forbidden_import:ctypes"),
        ("import builtins\ndef f(a): return a", "forbidden_import:builtins"),
        ("from . import x\ndef f(a): return a", "relative_import"),
        ("def f(a): return __import__('os').getcwd()", "forbidden_name:__import__"),
        ("def f(a): return eval(a)", "forbidden_call:eval"),
        ("def f(a):\n    e = exec\n    return e", "forbidden_call:exec"),
        ("def f(a): return open('x').read()", "forbidden_call:open"),
        ("def f(a): return globals()", "forbidden_call:globals"),
        ("def f(a): return compile('1', 's', 'eval')", "forbidden_call:compile"),
        ("def f(a): return ().__class__.__bases__[0].__subclasses__()", "forbidden_attribute:__subclasses__"),
        ("def f(a): return f.__globals__", "forbidden_attribute:__globals__"),
        ("def f(a): return f.__code__", "forbidden_attribute:__code__"),
        ("def f(a): return __builtins__", "forbidden_name:__builtins__"),
        ("def f(a): return getattr(a, '__class__')", "forbidden_attribute:__class__"),
        ("def f(a): return getattr(a, 'x' + 'y')", "forbidden_call:getattr"),
        ("def f(a):\n    import operator\n    return operator.attrgetter('__globals__')(f)", "forbidden_attribute:__globals__"),
    ],
)
def test_forbidden_constructs(code, reason):
    res = check_program(code)
    assert not res.ok
    assert res.reason == reason, res


def test_structure_and_size():
    assert check_program("def g(a): return a").reason == "missing_function:f"
    assert check_program("def f(:").reason == "syntax_error"
    assert check_program("x = 1").reason == "missing_function:f"
    assert check_program("def f(a): return a", entry=None).ok
    assert check_program("def f(a):\n    return a\n" + "# pad\n" * 5000, max_chars=1000).reason == "program_too_long"
    assert check_program("def f(a):\n    def f2(): pass\n    return a").ok


def test_shadowed_builtin_names_are_fine():
    assert check_program("def f(input):\n    return input.split()").ok
    assert check_program("def f(a):\n    vars = [a]\n    return vars").ok
    assert not check_program("def f(a):\n    return input()").ok


def test_allowed_stdlib():
    code = "import collections, itertools, math, re, heapq\nfrom functools import reduce\ndef f(a): return a"
    assert check_program(code).ok


@pytest.mark.parametrize(
    "text, ok",
    [
        ("1, 2", True), ("'abc'", True), ("[1, 2], k=3", True), ("{'a': (1, 2.5)}, None", True),
        ("-3, True, b'x', {1, 2}, set()", True), ("", True),
        ("1); import os; (2", False), ("*[1, 2]", True), ("**{'a': 1}", True), ("input(1)", False),
        ("__import__('os')", False), ("(g := 1)", False), ("1 2", False), ("f.__globals__", False),
    ],
)
def test_input_expressions(text, ok):
    args, res = check_input(text)
    assert (args is not None) == ok, res
    assert res.ok == ok


def test_reference_rules_allow_os_sys_numpy_and_strict_rules_do_not():
    """The reference bans neither os, sys nor numpy (its banned_words list); "strict" does."""
    for code in ("import os\ndef f(a): return os.sep + a", "import sys\ndef f(a): return sys.maxsize",
                 "import numpy as np\ndef f(a): return int(np.sum(a))", "from os import sep\ndef f(a): return a"):
        assert check_program(code).ok, code
        assert check_program(code, rules="reference").ok
        assert check_program(code, rules="strict").reason.startswith("forbidden_import:")
    assert check_program("def f(a):\n    return input(a)", rules="strict").reason == "forbidden_call:input"


def test_starred_inputs_follow_the_rule_set():
    args, res = check_input("*[1, 2], **{'k': 3}")
    assert res.ok and args.source == "*[1, 2], **{'k': 3}"
    args, res = check_input("*[1, 2]", rules="strict")
    assert args is None and res.reason == "input_starred"
    with pytest.raises(ValueError, match="unknown static rule set"):
        check_program("def f(a): return a", rules="nope")


def test_literal_only_inputs():
    assert check_input("range(5)")[0] is not None
    args, res = check_input("range(5)", literal_only=True)
    assert args is None and res.reason == "input_not_literal"
    args, _ = check_input("  [1,2] ,  'x'  ", literal_only=True)
    assert args.source == "[1, 2], 'x'" and args.n == 2


def test_parse_literal_is_safe_and_never_raises():
    assert parse_literal("[1, (2, 'a')]") == (True, [1, (2, "a")])
    assert parse_literal("__import__('os').system('true')")[0] is False
    assert parse_literal("9" * 5000)[0] is False  # int string-conversion limit
    assert parse_literal("[" * 10000 + "]" * 10000)[0] is False  # nesting
    assert parse_literal("1" * 200, max_chars=100) == (False, "too_long")
    assert literal_equal(1, 1.0) and not literal_equal("1", 1) and literal_equal(True, 1)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_checks_never_raise(text):
    check_program(text)
    check_input(text)
    parse_literal(text)


@pytest.mark.parametrize("text", [
    "frozenset({1, 2})", "set()", "Counter({'a': 2})", "OrderedDict([('a', 1)])", "deque([1, 2], maxlen=3)",
    "Fraction(1, 3)", "Decimal('1.5')", "range(0, 3)", "inf", "-inf", "nan", "float('inf')", "complex(1, 2)",
    "1+2j", "bytearray(b'x')", "dict(a=1)",
])
def test_safe_parser_reads_the_stdlib_repr_whitelist(text):
    ok, value = parse_literal(text)
    assert ok, value
    assert literal_equal(value, parse_literal(repr(value))[1])  # the repr reads back to an equal value


@pytest.mark.parametrize("text", [
    "__import__('os')", "().__class__", "Counter.fromkeys('ab')", "Counter(x for x in [1])", "defaultdict(int, {})",
    "range(0, 10**9)", "'a' * 10**9", "[[]]*10**9", "bytearray(10**10)", "frozenset(range(10**8))",
    "Fraction(1, 0)", "deque(maxlen=-1)", "{1: 2}.keys()", "print", "lambda: 0", "[*[1]]", "{**{}}", "...",
])
def test_safe_parser_refuses_everything_else_without_evaluating(text):
    assert parse_literal(text) == (False, "not_literal")
