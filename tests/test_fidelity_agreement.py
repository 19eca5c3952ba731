"""azr's proposal validity filter agrees with the reference's, except where a documented
difference says otherwise (docs/fidelity.md).

Each record of the fixture (``tests/data/fidelity_proposals.jsonl``; another file of the same
format can be named with ``AZR_FIDELITY_PROPOSALS``, e.g. a hidden set) is one proposal with
the verdict the reference code gives it (``absolute_zero_reasoner``, branch ``paper``:
``code_reward.parse_code_input_output`` / ``parse_inputs_message``, then
``PythonExecutor.check_all`` with the coder7b settings), derived by reading that code, and
the class of a documented difference (``""`` when azr must agree). The proposal goes through
azr's own path: ``parse_proposal`` (default entry rule), then ``CodeEnv.validate_proposals``
(default static rules, default induction rule, N = 10) in the sandbox.

Record fields: ``id``, ``task`` (deduction | abduction | induction), ``program``, ``input``
(deduction/abduction; ``null``: the completion has no input block) or ``inputs`` (induction),
``reference_valid``, ``reference_why``, ``difference``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from azr.executor import ExecutorConfig, Sandbox
from azr.selfplay.env import CodeEnv
from azr.tasks.parsing import parse_proposal
from azr.tasks.prompts import fence, render_proposal
from azr.tasks.types import TaskType

FIXTURE = Path(os.environ.get("AZR_FIDELITY_PROPOSALS") or Path(__file__).parent / "data" / "fidelity_proposals.jsonl")

#: Documented differences (docs/fidelity.md): class -> azr's verdict.
DIFFERENCES: dict[str, bool] = {
    "nested_defs": True,  # its def regex counts nested defs and methods; we count top-level defs only
    "exceptions_accepted": False,  # its check_all accepts runs whose status lacks the word "error"
    "dotted_bans_applied": False,  # its os.path / os.environ / sys.exit / os.sys entries never match
    "numpy_unavailable": False,  # numpy is installed in its environment, not in our sandbox
    "long_outputs": False,  # it truncates outputs to 400 characters; we reject reprs over 5,000
    "walrus_inputs": False,  # an input could rebind the program's globals
    "escape_hatches": False,  # eval/exec/open/dunder access refused in programs and inputs
    "hash_seed": False,  # output depends on the process's hash seed: no single answer
}


def _records() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


def _completion(r: dict) -> str:
    if r["task"] == "induction":
        return render_proposal("induction", inputs=r["inputs"], message="what the function does")
    if r["input"] is None:
        return f"plan</think>\n<answer>\n{fence('python', r['program'])}\n</answer>"
    return render_proposal(r["task"], program=r["program"], input=r["input"])


@pytest.fixture(scope="module")
def verdicts() -> dict[str, tuple[bool, str]]:
    records = _records()
    items = []
    for r in records:
        t = TaskType(r["task"])
        items.append((t, parse_proposal(t, _completion(r)), r["program"] if t is TaskType.INDUCTION else None))
    with Sandbox(ExecutorConfig(timeout_s=4.0, workers=2)) as sb:  # the infinite loop costs this once
        checked = CodeEnv(sb).validate_proposals(items, n_inputs=10, min_pairs=2)
    return {r["id"]: (task is not None, why) for r, (task, why) in zip(records, checked)}


def test_fixture_is_well_formed():
    records = _records()
    assert len(records) >= 30 and len({r["id"] for r in records}) == len(records)
    for r in records:
        assert r["task"] in ("deduction", "abduction", "induction") and isinstance(r["reference_valid"], bool)
        assert r["difference"] == "" or r["difference"] in DIFFERENCES, r["id"]
        assert r["difference"] == "" or DIFFERENCES[r["difference"]] != r["reference_valid"], r["id"]


def test_azr_agrees_with_the_reference_except_documented_differences(verdicts):
    records = _records()
    wrong = []
    for r in records:
        valid, why = verdicts[r["id"]]
        expected = r["reference_valid"] if not r["difference"] else DIFFERENCES[r["difference"]]
        if valid != expected:
            wrong.append(f"{r['id']}: azr {'valid' if valid else 'invalid (' + why + ')'}, expected {expected}"
                         f" (reference: {r['reference_why']}; difference: {r['difference'] or 'none'})")
    assert not wrong, "\n".join(wrong)
    agree = sum(verdicts[r["id"]][0] == r["reference_valid"] for r in records)
    plain = [r for r in records if not r["difference"]]
    assert all(verdicts[r["id"]][0] == r["reference_valid"] for r in plain)
    print(f"agreement with the reference: {agree}/{len(records)} overall, {len(plain)}/{len(plain)} "
          f"outside the documented differences")


def test_strict_static_rules_are_a_selfplay_option():
    """``selfplay.static_rules: strict`` restores azr's earlier module list and starred ban."""
    items = [(TaskType.DEDUCTION, parse_proposal("deduction", render_proposal("deduction", program=p, input=i)), None)
             for p, i in (("import os\ndef f(a):\n    return os.sep * a", "2"),
                          ("def f(a, b):\n    return a - b", "*[5, 2]"))]
    with Sandbox(ExecutorConfig(timeout_s=2.0, workers=2)) as sb:
        env = CodeEnv(sb)
        reference = env.validate_proposals(items, n_inputs=10, min_pairs=2)
        strict = env.validate_proposals(items, n_inputs=10, min_pairs=2, static_rules="strict")
    assert [t is not None for t, _ in reference] == [True, True]
    assert [why for _, why in strict] == ["forbidden_import:os", "input_starred"]
    with pytest.raises(ValueError, match="unknown static rules"):
        env.validate_proposals(items, n_inputs=10, min_pairs=2, static_rules="loose")
