"""Parsers for model completions. They never raise: every string gives a parse result.

A completion continues a prompt that ends in ``<think>`` (see ``azr.tasks.prompts``), so a
well-formatted completion is::

    reasoning ... </think> <answer> ...fenced blocks... </answer>

Two answer formats (``answer_format``): ``"reference"`` (the default) is the reference's
``get_format_reward`` (``rewards/custom_evaluate.py``, branch ``paper``: the regex
``<think>.*?</think>\s*<answer>.*?</answer>``): only whitespace between ``</think>`` and
``<answer>``, and the closing ``</answer>`` required. ``"lenient"`` (azr's earlier rule)
accepts text between the two and a missing ``</answer>`` (a sampler that stopped on it and
stripped it). Text after ``</answer>`` is ignored by both. Inside the answer, blocks are fenced with a tag
(```` ```python ````, ```` ```input ````, ```` ```output ````, ```` ```message ````). Solver answers
may also be given bare (without a fence) when they are a single expression.

Parsing only extracts strings: it does not check that a value is a literal or that a
program is safe to run. That is validation, done by ``azr.executor`` (in a sandbox).

One structural rule of the reference's proposal parser is applied here
(``entry_rule="reference"``, the default; ``absolute_zero_reasoner/rewards/code_reward.py::
parse_code_input_output``, branch ``paper``): a deduction/abduction proposal must define
exactly one function, and that function is renamed to ``f`` (its recursive calls too).
Unlike the reference's regex, only *top-level* functions count: nested helpers and methods
are allowed (the reference's regex also counted them, a defect DESIGN.md says not to copy).
``entry_rule="lenient"`` keeps azr's earlier rule (any number of top-level functions, one of
them named ``f``, nothing renamed).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from azr.tasks.types import TaskType

#: Longest answer body accepted (characters); longer answers are rejected as ``too_long``.
MAX_ANSWER_CHARS = 20_000

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ProposalParse:
    """A proposer completion, parsed. ``ok`` is False with a short ``reason`` on failure."""

    ok: bool
    reason: str = ""
    program: str = ""  # deduction/abduction
    input: str = ""  # deduction/abduction
    inputs: tuple[str, ...] = ()  # induction
    message: str = ""  # induction


@dataclass(frozen=True)
class SolutionParse:
    """A solver completion, parsed: the answer string (output, input or program)."""

    ok: bool
    reason: str = ""
    answer: str = ""


AnswerFormat = Literal["reference", "lenient"]
ANSWER_FORMATS: tuple[str, ...] = ("reference", "lenient")


def extract_answer(text: str, answer_format: AnswerFormat = "reference") -> tuple[str | None, str]:
    """The body of the ``<answer>`` block after ``</think>``: (body, "") or (None, reason).

    Reasons: ``missing_think_close``, ``missing_answer``, ``text_before_answer`` and
    ``missing_answer_close`` (reference format only), ``unclosed_answer``, ``too_long``,
    ``empty_answer``, ``unknown_answer_format``."""
    if not isinstance(text, str):
        return None, "not_text"
    if answer_format not in ANSWER_FORMATS:
        return None, "unknown_answer_format"
    end_think = text.find("</think>")
    if end_think < 0:
        return None, "missing_think_close"
    rest = text[end_think + len("</think>") :]
    start = rest.find("<answer>")
    if start < 0:
        return None, "missing_answer"
    if answer_format == "reference" and rest[:start].strip():
        return None, "text_before_answer"
    body = rest[start + len("<answer>") :]
    close = body.find("</answer>")
    if close >= 0:
        body = body[:close]
    elif answer_format == "reference":
        return None, "missing_answer_close"
    elif "<answer>" in body or "<think>" in body:
        return None, "unclosed_answer"
    if len(body) > MAX_ANSWER_CHARS:
        return None, "too_long"
    if not body.strip():
        return None, "empty_answer"
    return body, ""


def fenced_blocks(body: str) -> list[tuple[str, str]]:
    """All fenced blocks of ``body`` as (lower-case tag, stripped content), in order."""
    return [(m.group(1).lower(), m.group(2).strip()) for m in _FENCE.finditer(body)]


def _first(blocks: list[tuple[str, str]], *tags: str) -> str | None:
    for tag, content in blocks:
        if tag in tags:
            return content
    return None


def _last(blocks: list[tuple[str, str]], *tags: str) -> str | None:
    return _first(blocks[::-1], *tags)


EntryRule = Literal["reference", "lenient"]
ENTRY_RULES: tuple[str, ...] = ("reference", "lenient")


def normalize_entry(code: str, entry: str = "f") -> tuple[str | None, str]:
    """The reference's single-function rule: ``(code, "")`` with the one top-level function
    renamed to ``entry``, or ``(None, reason)``.

    Reasons: ``missing_function`` (no top-level ``def``), ``multiple_functions`` (more than
    one). A program that does not parse is returned unchanged (validation reports the syntax
    error). The rename touches the ``def`` line and every name reference of the old name
    (calls included), at their exact source positions, so formatting and comments survive;
    the reference's regex also rewrote ``name(`` inside strings and attribute calls.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return code, ""
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        return None, "missing_function"
    if len(defs) > 1:
        return None, "multiple_functions"
    old = defs[0].name
    if old == entry:
        return code, ""
    spots: list[tuple[int, int, int]] = []  # (line index, byte start, byte end)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == old:
            spots.append((node.lineno - 1, node.col_offset, node.end_col_offset))
    lines = code.splitlines(keepends=True)
    d = defs[0]
    head = lines[d.lineno - 1].encode("utf-8")
    m = re.compile(rb"(async\s+)?def\s+").match(head, d.col_offset)
    if m is None:  # not expected from a parsed FunctionDef; keep the reference's failure mode
        return None, "missing_function"
    spots.append((d.lineno - 1, m.end(), m.end() + len(old.encode("utf-8"))))
    for li, start, end in sorted(spots, reverse=True):
        raw = lines[li].encode("utf-8")
        lines[li] = (raw[:start] + entry.encode("utf-8") + raw[end:]).decode("utf-8")
    return "".join(lines), ""


def parse_proposal(task_type: TaskType | str, text: str, *, entry_rule: EntryRule = "reference",
                   answer_format: AnswerFormat = "reference") -> ProposalParse:
    """Parse a proposer completion for ``task_type`` (never raises).

    ``entry_rule``: ``"reference"`` applies ``normalize_entry`` to deduction/abduction
    programs; ``"lenient"`` leaves them as written. ``answer_format``: see the module doc."""
    try:
        task_type = TaskType(task_type)
    except ValueError:
        return ProposalParse(False, "unknown_task_type")
    body, reason = extract_answer(text, answer_format)
    if body is None:
        return ProposalParse(False, reason)
    blocks = fenced_blocks(body)
    if task_type is TaskType.INDUCTION:
        inputs = tuple(c for tag, c in blocks if tag == "input" and c)
        message = _first(blocks, "message")
        if not inputs:
            return ProposalParse(False, "missing_inputs")
        if not message:
            return ProposalParse(False, "missing_message")
        return ProposalParse(True, inputs=inputs, message=message)
    program = _first(blocks, "python", "py")
    inp = _first(blocks, "input")
    if not program:
        return ProposalParse(False, "missing_program")
    if not inp:
        return ProposalParse(False, "missing_input")
    if entry_rule == "reference":
        program, why = normalize_entry(program)
        if program is None:
            return ProposalParse(False, why)
    elif entry_rule != "lenient":
        return ProposalParse(False, "unknown_entry_rule")
    return ProposalParse(True, program=program, input=inp)


_SOLUTION_TAGS = {
    TaskType.DEDUCTION: ("output",),
    TaskType.ABDUCTION: ("input",),
    TaskType.INDUCTION: ("python", "py"),
}


def parse_solution(task_type: TaskType | str, text: str, *, answer_format: AnswerFormat = "reference") -> SolutionParse:
    """Parse a solver completion: the predicted output (deduction), input (abduction) or
    program (induction). A bare answer without a fence is accepted (stripped).

    With several fenced blocks the *last* one of the role's tag counts (then the last
    untagged one), as in the reference (``reward_managers.extract_input_output`` and
    ``code_reward.parse_code_function`` take the last match); proposals take the first
    program and input block, as its ``parse_code_input_output`` does."""
    try:
        task_type = TaskType(task_type)
    except ValueError:
        return SolutionParse(False, "unknown_task_type")
    body, reason = extract_answer(text, answer_format)
    if body is None:
        return SolutionParse(False, reason)
    blocks = fenced_blocks(body)
    answer = _last(blocks, *_SOLUTION_TAGS[task_type])
    if answer is None and blocks:
        answer = _last(blocks, "")  # an untagged fence
    if answer is None:
        if "```" in body:
            return SolutionParse(False, "malformed_fence")
        answer = body.strip()
    if not answer:
        return SolutionParse(False, "empty_answer")
    return SolutionParse(True, answer=answer)
