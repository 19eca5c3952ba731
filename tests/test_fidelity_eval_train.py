"""One prompt + parse path: ``azr eval cruxeval-o/-i --template azr`` and the trainer's
in-training validation (``azr.selfplay.validation``) give the same per-item verdicts for the
same model (a scripted engine answering in the self-play format, some answers right, some
wrong, some malformed, one hostile). The trainer side is what its validation runs:
``solver_prompts`` then ``grade`` (``azr.selfplay.solve``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from azr.eval.benchmarks import load_benchmark
from azr.eval.runner import SamplingSpec, evaluate
from azr.eval.templates import TEMPLATES
from azr.eval.types import EvalSettings
from azr.executor import ExecutorConfig, Sandbox
from azr.rollout.types import Completion
from azr.selfplay.env import CodeEnv
from azr.selfplay.solve import grade, solver_prompts
from azr.tasks.prompts import render_solution
from azr.tasks.types import TaskType, Triplet

SHARED = Path(os.environ.get("AZR_TEST_DATA_DIR", "/work/shared/data/benchmarks"))
pytestmark = pytest.mark.skipif(not (SHARED / "cruxeval" / "cruxeval.jsonl").is_file(),
                                reason=f"no CRUXEval data at {SHARED}")
N_ITEMS = 12


def _answer(kind: int, task_type: TaskType, t: Triplet) -> str:
    """A completion of one of six styles, chosen by the item's position."""
    gold = t.output if task_type is TaskType.DEDUCTION else t.input
    if kind == 0:
        return render_solution(task_type, gold, think="work it out")  # fenced, right
    if kind == 1:
        return render_solution(task_type, "'certainly wrong'", think="guess")  # fenced, wrong
    if kind == 2:
        return f"short</think>\n<answer>\n{gold}\n</answer>"  # bare answer, right
    if kind == 3:
        return f"no closing think tag <answer>{gold}</answer>"  # format error
    if kind == 4:
        return f"x</think><answer>\n```\n{gold}\n```\n</answer> trailing words"  # untagged fence
    hostile = "__import__('os').system('true')" if task_type is TaskType.ABDUCTION else "print(1)"
    return f"x</think><answer>\n```{'input' if task_type is TaskType.ABDUCTION else 'output'}\n{hostile}\n```\n</answer>"


class ScriptedModel:
    """Answers each CRUXEval prompt by the position of its program; records the prompts."""

    def __init__(self, triplets: list[Triplet], task_type: TaskType):
        self.by_code = {t.program: (k, t) for k, t in enumerate(triplets)}
        self.task_type = task_type
        self.prompts: list[str] = []

    def generate(self, prompts, params):
        self.prompts += prompts
        out = []
        for p in prompts:
            (k, t), = [v for code, v in self.by_code.items() if f"```python\n{code.strip()}\n```" in p]
            text = _answer(k % 6, self.task_type, t)
            out.append([Completion(tuple(range(len(text) // 4)), text, (), "eos") for _ in range(params.n)])
        return out


@pytest.fixture(scope="module")
def env():
    with Sandbox(ExecutorConfig(timeout_s=30.0)) as sb:  # generous: verdicts must not depend on load
        yield CodeEnv(sb)


@pytest.mark.parametrize("bench, task_type", [("cruxeval-o", TaskType.DEDUCTION), ("cruxeval-i", TaskType.ABDUCTION)])
def test_eval_and_training_validation_agree_item_by_item(tmp_path, env, bench, task_type):
    problems = load_benchmark(bench, SHARED, limit=N_ITEMS)
    triplets = [Triplet(p.meta["code"], p.meta["input"], p.meta["output"]) for p in problems]

    model = ScriptedModel(triplets, task_type)
    settings = EvalSettings(progress=False, workers=2, cache_dir="", memory_mb=512, cruxeval_timeout_s=30.0)
    summary = evaluate(bench, tmp_path, engine=model, spec=SamplingSpec(template="azr", temperature=0.0),
                       settings=settings, data_dir=str(SHARED), limit=N_ITEMS)
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    eval_verdicts = {r["task_id"]: r["passed"] for r in rows}
    eval_reasons = {r["task_id"]: r.get("reason", "") for r in rows}
    eval_prompts = list(model.prompts)

    model.prompts.clear()
    train_prompts = solver_prompts(task_type, triplets)
    grades = grade(env, task_type, triplets, [c[0] for c in model.generate(train_prompts, _Params())])
    train_verdicts = {p.task_id: g.correct for p, g in zip(problems, grades)}

    assert eval_prompts == train_prompts  # the same prompts, built by the same function
    mismatch = [(p.task_id, eval_reasons[p.task_id], g.reason) for p, g in zip(problems, grades)
                if eval_verdicts[p.task_id] != g.correct]
    assert not mismatch, mismatch
    expected = [k % 6 in (0, 2, 4) for k in range(N_ITEMS)]  # wrong, malformed and hostile fail
    assert [train_verdicts[p.task_id] for p in problems] == expected
    assert [g.outcome.value == "format_error" for g in grades] == [k % 6 == 3 for k in range(N_ITEMS)]
    assert summary["pass@k"]["1"] == pytest.approx(sum(expected) / N_ITEMS)


class _Params:
    n = 1


def test_unparseable_answers_are_marked_not_scored_as_text():
    build, extract = TEMPLATES["azr"]
    p = load_benchmark("cruxeval-i", SHARED, limit=1)[0]
    _, solution = extract("cruxeval-i", p, "no think close <answer>f(1)</answer>")
    assert solution == "<format error: missing_think_close>"
    _, solution = extract("cruxeval-i", p, "x</think><answer>\n```output\n0\n```\n</answer>")
    assert solution == "<format error: malformed_fence>"  # as the trainer's parse_solution says
    # the example: a trained model's fenced output used to be scored as raw text
    o = load_benchmark("cruxeval-o", SHARED, limit=1)[0]
    assert extract("cruxeval-o", o, "x</think>\n<answer>\n```output\n0\n```\n</answer>")[1] == "0"
    prompt, stops = build("cruxeval-i", p)
    assert p.meta["input"] not in prompt.split("User: ", 1)[1] and stops == ("</answer>",)
    tiny_prompt, _ = TEMPLATES["azr-tiny"][0]("cruxeval-i", p)
    assert tiny_prompt != prompt and tiny_prompt.endswith("Assistant: <think>")
