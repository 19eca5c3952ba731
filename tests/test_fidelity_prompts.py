"""Prompt structure per (task, role) for the "reference" template set (the default), and the
"tiny" set kept as an option (the reference: ``data_construction/prompts.py``, branch ``paper``)."""

from __future__ import annotations

import re

import pytest

from azr.tasks.parsing import parse_proposal, parse_solution
from azr.tasks.prompts import (
    ASSISTANT_PREFIX,
    REFERENCE_SYSTEM,
    SYSTEM,
    TEMPLATE_SETS,
    proposer_prompt,
    render_proposal,
    render_solution,
    solver_prompt,
)
from azr.tasks.types import REFERENCE_BANNED_KEYWORDS, InductionTask, TaskType, Triplet

REFS = tuple(Triplet(f"def f(a):\n    return a * {k}", f"{k}", f"{k * k}") for k in range(2, 8))
TASK = Triplet("def f(s):\n    return s[::-1]", "'abc'", "'cba'")
IND = InductionTask("def f(x):\n    return x + 1", tuple((str(i), str(i + 1)) for i in range(10)),
                    "add one", n_visible=5)


def _fences(text: str) -> list[str]:
    return re.findall(r"```([A-Za-z0-9_]+)\n", text)


def _user(prompt: str) -> str:
    assert prompt.startswith(REFERENCE_SYSTEM + "\nUser: ") and prompt.endswith("\n" + ASSISTANT_PREFIX)
    return prompt[len(REFERENCE_SYSTEM) + len("\nUser: "):-len(ASSISTANT_PREFIX)]


@pytest.mark.parametrize("task", [TaskType.DEDUCTION, TaskType.ABDUCTION])
def test_reference_proposer_prompt_for_deduction_and_abduction(task):
    body = _user(proposer_prompt(task, REFS))
    order = ["## Task:", "### Requirements for the code:", "### Requirements for the input:",
             "### Answer layout:", "### Example of the layout:", "### How your answer is judged:",
             "Start by making a careful plan", "### Reference snippets:"]
    positions = [body.index(h) for h in order]
    assert positions == sorted(positions)  # the reference's section order, plan before the references
    assert "entry function `f`" in body and "10 seconds" in body and "exactly one test input" in body
    assert "custom classes are allowed" in body and "several successive transformations" in body
    words = body.split("comments included: ", 1)[1].split("\n", 1)[0]
    assert words.split(", ") == list(REFERENCE_BANNED_KEYWORDS)
    target = "working out its output" if task is TaskType.DEDUCTION else "finding an input"
    assert target in body
    # one tagged block per reference triplet, each with python, input and output fences in order
    refs = body.split("### Reference snippets:\n", 1)[1]
    assert refs.count("<reference_") == len(REFS) and refs.count("</reference_") == len(REFS)
    assert _fences(refs) == ["python", "input", "output"] * len(REFS)
    for t in REFS:
        assert t.program in refs and f"```output\n{t.output}\n```" in refs


def test_reference_proposer_prompt_for_induction():
    body = _user(proposer_prompt(TaskType.INDUCTION, REFS[:1], n_inputs=10))
    assert body.startswith("## Task: write 10 inputs")
    for h in ("### Requirements for the inputs:", "### Requirements for the message:",
              "### How your answer is judged:", "Start by making a careful plan", "### Code snippet:"):
        assert h in body
    assert "Give 10 valid inputs" in body and "its own ```input``` block" in body
    assert "must not contain the code" in body
    snippet = body.split("### Code snippet:\n", 1)[1]
    assert snippet.startswith("```python\n" + REFS[0].program + "\nf(")  # how an input is plugged in
    assert "<reference_" not in body and "```output" not in body


def test_reference_solver_prompts_show_what_each_task_gives_and_nothing_more():
    ded = _user(solver_prompt(TaskType.DEDUCTION, TASK))
    assert _fences(ded) == ["python", "input", "output"]  # the last one is the example answer
    assert TASK.output not in ded and "reason step by step" in ded and "as a tuple" in ded
    abd = _user(solver_prompt(TaskType.ABDUCTION, TASK))
    assert _fences(abd) == ["python", "output", "input", "input"]  # code, output, layout, example
    assert f"```output\n{TASK.output}\n```" in abd and f"```input\n{TASK.input}\n```" not in abd
    ind = _user(solver_prompt(TaskType.INDUCTION, IND))
    pairs = ind.split("# Input/output pairs:\n", 1)[1].split("# Message:", 1)[0]
    assert _fences(pairs) == [f"{kind}_{k}" for k in range(5) for kind in ("input", "output")]
    for i, o in IND.hidden:
        assert f"```input_{IND.pairs.index((i, o))}" not in ind  # hidden pairs never shown
    assert "```message\nadd one\n```" in ind and "# Requirements for the code:" in ind
    assert IND.program not in ind and ind.rstrip().endswith("must be called `f`.")


@pytest.mark.parametrize("template_set", TEMPLATE_SETS)
def test_canonical_completions_parse_under_both_sets(template_set):
    for task in (TaskType.DEDUCTION, TaskType.ABDUCTION):
        prompt = proposer_prompt(task, REFS, template_set=template_set)
        assert prompt.endswith(ASSISTANT_PREFIX)
        p = parse_proposal(task, render_proposal(task, program=TASK.program, input=TASK.input))
        assert p.ok and p.program == TASK.program
    p = parse_proposal("induction", render_proposal("induction", inputs=["1", "2"], message="m"))
    assert p.ok and p.inputs == ("1", "2")
    for task, answer in ((TaskType.DEDUCTION, "'cba'"), (TaskType.ABDUCTION, "'abc'"),
                         (TaskType.INDUCTION, IND.program)):
        assert parse_solution(task, render_solution(task, answer)).answer == answer


def test_tiny_set_is_the_short_one_and_unknown_sets_fail():
    tiny = solver_prompt(TaskType.DEDUCTION, TASK, template_set="tiny")
    assert tiny.startswith(SYSTEM + "\nUser: ") and len(tiny) < len(solver_prompt(TaskType.DEDUCTION, TASK)) / 2
    assert proposer_prompt(TaskType.DEDUCTION, REFS) == proposer_prompt(TaskType.DEDUCTION, REFS, template_set="reference")
    with pytest.raises(ValueError, match="unknown template set"):
        solver_prompt(TaskType.DEDUCTION, TASK, template_set="long")
