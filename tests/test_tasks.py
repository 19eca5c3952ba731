"""Tasks: triplets, hashes, prompt templates and parsers (torch-free)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr.tasks import (
    GROUPS,
    ZERO_TRIPLET,
    InductionTask,
    Role,
    TaskType,
    Triplet,
    group_name,
    parse_proposal,
    parse_solution,
    proposer_prompt,
    render_proposal,
    render_solution,
    solver_prompt,
)
from azr.tasks.parsing import extract_answer

PROG = "def f(xs, k):\n    def helper(v):\n        return v * k\n    return [helper(x) for x in xs]"


def test_groups_are_the_six_task_role_pairs():
    assert len(GROUPS) == 6 and len(set(GROUPS)) == 6
    assert group_name("deduction", "propose") == "propose/deduction"
    assert group_name(TaskType.INDUCTION, Role.SOLVE) == "solve/induction"


def test_triplet_hash_depends_on_content_only():
    a = Triplet(PROG, "[1, 2], 3", "[3, 6]")
    b = Triplet(PROG, "[1, 2], 3", "[3, 6]")
    c = Triplet(PROG, "[1, 2], 4", "[4, 8]")
    assert a == b and a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash
    assert Triplet.from_dict(a.to_dict()) == a
    with pytest.raises(AttributeError):
        a.program = "x"  # frozen


def test_induction_task_split_and_round_trip():
    pairs = tuple((str(i), str(2 * i)) for i in range(5))
    t = InductionTask("def f(a):\n    return 2 * a", pairs, "doubles")
    assert t.n_visible == 3 and len(t.visible) == 3 and len(t.hidden) == 2
    assert t.visible + t.hidden == t.pairs
    assert InductionTask.from_dict(t.to_dict()) == t
    assert t.content_hash != InductionTask(t.program, pairs, "other").content_hash
    with pytest.raises(ValueError, match="inputs"):
        InductionTask.from_dict({"program": "x", "inputs": ["1"], "outputs": []})


@pytest.mark.parametrize("task_type", ["deduction", "abduction"])
def test_proposer_prompt_shows_k_references(task_type):
    refs = [ZERO_TRIPLET, Triplet(PROG, "[1], 2", "[2]")]
    prompt = proposer_prompt(task_type, refs, template_set="tiny")  # the reference set: test_fidelity_prompts.py
    assert prompt.endswith("<think>")
    assert prompt.count("# Example") == 2 and "'Hello World'" in prompt and "helper" in prompt


def test_induction_prompts():
    p = proposer_prompt("induction", [Triplet(PROG, "", "")], n_inputs=4, template_set="tiny")
    assert "4 different inputs" in p and "helper" in p and "```message" in p
    with pytest.raises(ValueError):
        proposer_prompt("induction", [])
    task = InductionTask("def f(a):\n    return a + 1", (("1", "2"), ("5", "6"), ("7", "8")), "adds one")
    s = solver_prompt("induction", task, template_set="tiny")
    assert "f(1) == 2" in s and "f(5) == 6" in s and "f(7) == 8" not in s and "adds one" in s
    with pytest.raises(TypeError):
        solver_prompt("induction", ZERO_TRIPLET)


@pytest.mark.parametrize("template_set", ["reference", "tiny"])
def test_solver_prompts_hide_the_answer(template_set):
    t = Triplet(PROG, "[1, 2], 3", "[3, 6]")
    ded = solver_prompt("deduction", t, template_set=template_set)
    abd = solver_prompt("abduction", t, template_set=template_set)
    assert "[1, 2], 3" in ded and "[3, 6]" not in ded
    assert "[3, 6]" in abd and "[1, 2], 3" not in abd


@pytest.mark.parametrize("task_type", ["deduction", "abduction"])
def test_render_then_parse_proposal(task_type):
    text = render_proposal(task_type, program=PROG, input="[1, 2], 3", think="try lists")
    r = parse_proposal(task_type, text)
    assert r.ok and r.program == PROG and r.input == "[1, 2], 3"


def test_render_then_parse_induction_proposal():
    text = render_proposal("induction", inputs=["1", "'a'", "[1]"], message="returns its argument")
    r = parse_proposal("induction", text)
    assert r.ok and r.inputs == ("1", "'a'", "[1]") and r.message == "returns its argument"


@pytest.mark.parametrize(
    "task_type,answer",
    [("deduction", "[3, 6]"), ("abduction", "[1, 2], 3"), ("induction", PROG)],
)
def test_render_then_parse_solution(task_type, answer):
    r = parse_solution(task_type, render_solution(task_type, answer, think="hmm"))
    assert r.ok and r.answer == answer


@pytest.mark.parametrize(
    "text,reason",
    [
        ("no tags at all", "missing_think_close"),
        ("thinking</think> but no answer", "missing_answer"),
        ("x</think><answer>   </answer>", "empty_answer"),
        ("x</think><answer>1<answer>2", "missing_answer_close"),
        ("x</think><answer>```output\n1\n</answer>", "malformed_fence"),
        ("x</think> so: <answer>1</answer>", "text_before_answer"),
        ("x</think><answer>" + "1" * 30_000 + "</answer>", "too_long"),
    ],
)
def test_solution_rejections_carry_reasons(text, reason):
    r = parse_solution("deduction", text)
    assert not r.ok and r.reason == reason


def test_lenient_answer_format_accepts_what_the_reference_format_rejects():
    assert parse_solution("deduction", "x</think> so: <answer>1</answer>", answer_format="lenient").answer == "1"
    assert parse_solution("deduction", "x</think><answer>1<answer>2", answer_format="lenient").reason == "unclosed_answer"
    assert parse_solution("deduction", "x</think><answer>1", answer_format="reference").reason == "missing_answer_close"
    assert parse_solution("deduction", "x</think><answer>1", answer_format="odd").reason == "unknown_answer_format"


def test_solutions_take_the_last_block_of_their_tag_like_the_reference():
    text = "x</think><answer>\n```output\n1\n```\nno wait\n```output\n2\n```\n```input\n9\n```\n</answer>"
    assert parse_solution("deduction", text).answer == "2"
    assert parse_solution("abduction", text).answer == "9"


def test_bare_and_stop_stripped_answers_are_accepted():
    assert parse_solution("deduction", "4 * 2 = 8 </think>\n<answer> 8 </answer>").answer == "8"
    # lenient: a sampler may stop on "</answer>" and strip it (the reference format requires it)
    assert parse_solution("abduction", "ok</think><answer>\n```input\n3, 4\n```\n", answer_format="lenient").answer == "3, 4"


def test_proposal_rejections():
    assert parse_proposal("deduction", "a</think><answer>```input\n1\n```</answer>").reason == "missing_program"
    assert parse_proposal("abduction", "a</think><answer>```python\ndef f(a): return a\n```</answer>").reason == "missing_input"
    ind = "a</think><answer>```input\n1\n```</answer>"
    assert parse_proposal("induction", ind).reason == "missing_message"
    assert parse_proposal("induction", "a</think><answer>```message\nm\n```</answer>").reason == "missing_inputs"
    assert parse_proposal("nonsense", "x").reason == "unknown_task_type"
    assert extract_answer(None)[1] == "not_text"  # type: ignore[arg-type]


_TAGGY = st.text(alphabet=st.sampled_from(list("<>/`\n thinkanswerpyoutmsg{}()[]'\"01\\")), max_size=200)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(task=st.sampled_from(list(TaskType)), text=st.one_of(st.text(max_size=300), _TAGGY))
def test_parsers_never_raise(task, text):
    for result in (parse_proposal(task, text), parse_solution(task, text)):
        assert isinstance(result.ok, bool)
        assert result.ok or result.reason


def _plain(s: str) -> bool:
    """Text that cannot be confused with the answer's own markup."""
    return bool(s.strip()) and not any(m in s for m in ("```", "answer>", "think>"))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    program=st.text(min_size=1, max_size=80).filter(_plain),
    inp=st.text(min_size=1, max_size=40).filter(_plain),
)
def test_proposal_round_trip_property(program, inp):
    # strings only: the "lenient" entry rule leaves programs as written (the default
    # "reference" rule also requires exactly one top-level def, tested below)
    r = parse_proposal("deduction", render_proposal("deduction", program=program, input=inp), entry_rule="lenient")
    assert r.ok and r.program == program.strip() and r.input == inp.strip()


def _prop(program: str) -> str:
    return render_proposal("abduction", program=program, input="1")


def test_reference_entry_rule_renames_the_single_function_and_its_recursive_calls():
    r = parse_proposal("abduction", _prop("def count(n):  # count(\n    return 0 if n == 0 else 1 + count(n - 1)"))
    assert r.ok and r.program == "def f(n):  # count(\n    return 0 if n == 0 else 1 + f(n - 1)"
    lenient = parse_proposal("abduction", _prop("def count(n):\n    return n"), entry_rule="lenient")
    assert lenient.ok and lenient.program == "def count(n):\n    return n"


def test_reference_entry_rule_counts_top_level_functions_only():
    nested = "def f(a):\n    def helper(b):\n        return b + 1\n    return helper(a)"
    assert parse_proposal("deduction", _prop(nested)).program == nested  # the reference's regex rejected this
    two = "def helper(b):\n    return b + 1\n\ndef f(a):\n    return helper(a)"
    assert parse_proposal("deduction", _prop(two)).reason == "multiple_functions"
    assert parse_proposal("deduction", _prop(two), entry_rule="lenient").ok
    assert parse_proposal("deduction", _prop("x = 1")).reason == "missing_function"
    assert parse_proposal("deduction", _prop("def f(:")).program == "def f(:"  # validation reports it
