"""Induction task construction: the reference rule (default) and the lenient rule (option).

Reference (``absolute_zero_reasoner/rewards/reward_managers.py``, branch ``paper``,
``gen_code_f`` and the split in ``_get_problem_generator_rewards_and_valid_programs``):
``parse_inputs_message`` needs at least N input blocks and keeps the last N; every one must
pass ``check_all`` or the proposal is invalid; ``len // 2`` pairs are given, the rest hidden.
"""

from __future__ import annotations

import pytest

from azr.config import Config, apply_overrides, from_dict
from azr.executor import ExecutorConfig, Sandbox
from azr.selfplay.env import CodeEnv
from azr.selfplay.propose import reference_inputs
from azr.tasks.parsing import parse_proposal
from azr.tasks.prompts import render_proposal
from azr.tasks.types import InductionTask, TaskType

PROGRAM = "def f(x):\n    return 10 // x"


@pytest.fixture(scope="module")
def env():
    with Sandbox(ExecutorConfig(timeout_s=2.0)) as sb:
        yield CodeEnv(sb)


def _item(inputs):
    text = render_proposal("induction", inputs=inputs, message="integer division of ten")
    return (TaskType.INDUCTION, parse_proposal("induction", text), PROGRAM)


def _check(env, inputs, rule, n=10, min_pairs=2):
    return env.validate_proposals([_item(inputs)], n_inputs=n, min_pairs=min_pairs, induction_rule=rule)[0]


def test_reference_rule_needs_n_inputs_that_all_pass_and_splits_half_half(env):
    task, why = _check(env, [str(i) for i in range(1, 11)], "reference")
    assert why == "" and isinstance(task, InductionTask)
    assert [i for i, _ in task.visible] == ["1", "2", "3", "4", "5"]
    assert [i for i, _ in task.hidden] == ["6", "7", "8", "9", "10"]
    assert task.hidden[0] == ("6", "1")

    task, why = _check(env, [str(i) for i in range(1, 10)], "reference")  # 9 < 10
    assert task is None and why == "too_few_inputs:9<10"

    task, why = _check(env, [str(i) for i in range(0, 10)], "reference")  # f(0) raises
    assert task is None and why == "runtime_error:ZeroDivisionError"


def test_reference_rule_keeps_the_last_n_inputs_duplicates_included(env):
    inputs = ["0", "0"] + ["1", "1", "2", "3", "4", "5", "6", "7", "8", "9"]  # 12 blocks: the failing ones drop off
    task, why = _check(env, inputs, "reference")
    assert why == "" and [i for i, _ in task.pairs] == inputs[-10:]
    assert reference_inputs((" a ", "b", "c"), 2) == ("b", "c")


def test_reference_split_rounds_down_for_odd_n(env):
    task, _ = _check(env, ["1", "2", "3", "4", "5"], "reference", n=5)
    assert len(task.visible) == 2 and len(task.hidden) == 3


def test_lenient_rule_drops_failing_and_duplicate_inputs(env):
    task, why = _check(env, ["0", "1", "1", "2", "5"], "lenient", n=10, min_pairs=2)
    assert why == "" and [i for i, _ in task.pairs] == ["1", "2", "5"]
    assert len(task.visible) == 2 and len(task.hidden) == 1
    task, why = _check(env, ["0", "1"], "lenient", n=10, min_pairs=2)
    assert task is None and why == "runtime_error:ZeroDivisionError"


def test_induction_rule_is_a_config_option():
    cfg = Config()
    assert cfg.selfplay.induction_rule == "reference" and cfg.selfplay.entry_rule == "reference"
    cfg = from_dict(Config, apply_overrides({}, ["selfplay.induction_rule=lenient"], Config))
    assert cfg.selfplay.induction_rule == "lenient"
    with pytest.raises(Exception, match="induction_rule"):
        from_dict(Config, apply_overrides({}, ["selfplay.induction_rule=loose"], Config))
    with pytest.raises(ValueError, match="unknown induction rule"):
        CodeEnv(None).validate_proposals([], n_inputs=1, min_pairs=1, induction_rule="loose")
