"""Periodic validation: CRUXEval-O/-I from the data dir, else generator-made held-out tasks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from azr.executor import ExecutorConfig, Sandbox
from azr.rollout.types import Completion
from azr.selfplay.env import CodeEnv
from azr.selfplay.solve import solver_prompts
from azr.rollout.config import RolloutConfig
from azr.selfplay.validation import build_heldout_sets, heldout_accuracy
from azr.tasks.prompts import render_solution

DATA = os.environ.get("AZR_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks")


class AnswerKey:
    """An engine that answers each known prompt with a fixed completion."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.params = []

    def generate(self, prompts, params):
        self.params.append(params)
        return [[Completion((1,), self.answers.get(p, "no idea"), (0.0,), "eos", (1,))] for p in prompts]


@pytest.fixture(scope="module")
def env():
    with Sandbox(ExecutorConfig(timeout_s=2.0)) as sb:
        yield CodeEnv(sb)


def key_for(val_sets, wrong_every: int = 0):
    answers = {}
    for vs in val_sets:
        for k, (t, p) in enumerate(zip(vs.tasks, solver_prompts(vs.task_type, vs.tasks))):
            gold = t.output if vs.name.endswith("_o") else t.input
            answers[p] = render_solution(vs.task_type, "None" if wrong_every and k % wrong_every == 0 else gold)
    return AnswerKey(answers)


@pytest.mark.skipif(not (Path(DATA) / "cruxeval" / "cruxeval.jsonl").is_file(), reason=f"no CRUXEval under {DATA}")
def test_cruxeval_sets_from_the_data_dir(env):
    sets = build_heldout_sets(("cruxeval_o", "cruxeval_i"), 6, DATA, seed=0, env=env)
    assert [s.name for s in sets] == ["cruxeval_o", "cruxeval_i"] and all(len(s.tasks) == 6 for s in sets)
    again = build_heldout_sets(("cruxeval_o",), 6, DATA, seed=0, env=env)
    assert again[0].tasks == sets[0].tasks  # the same items every time
    engine = key_for(sets)
    m = heldout_accuracy(engine, env, sets, RolloutConfig(max_new_tokens=32, stop=()))
    assert m["val/cruxeval_o/accuracy"] == 1.0 and m["val/cruxeval_i/accuracy"] == 1.0
    assert all(p.temperature == 0.0 for p in engine.params)


def test_generator_sets_without_data(env, tmp_path):
    sets = build_heldout_sets(("cruxeval_o", "cruxeval_i"), 4, str(tmp_path), seed=0, env=env)
    assert [s.name for s in sets] == ["gen_o", "gen_i"] and all(len(s.tasks) == 4 for s in sets)
    m = heldout_accuracy(key_for(sets, wrong_every=2), env, sets, RolloutConfig(max_new_tokens=32, stop=()))
    assert m["val/gen_o/accuracy"] == 0.5
    assert build_heldout_sets(("cruxeval_o",), 0, str(tmp_path), 0, env) == []
