"""Generator benchmarks gen-o / gen-i / gen-f: held out, deterministic, scored as the trainer grades."""

from __future__ import annotations

import pytest

from azr.eval.generated import GEN_TASK, build_problems, excluded_programs, task_of
from azr.eval.runner import score
from azr.eval.templates import TEMPLATES
from azr.eval.types import EvalSettings, Sample, ScoringContext
from azr.tasks.types import TaskType


@pytest.fixture(scope="module")
def ctx():
    with ScoringContext(EvalSettings(workers=2, progress=False)) as c:
        yield c


@pytest.fixture(scope="module")
def problems(ctx):
    return {kind: build_problems(kind, ctx.sandbox, n_programs=16) for kind in GEN_TASK}


def test_held_out_and_deterministic(problems, ctx):
    skip = excluded_programs()
    for kind, probs in problems.items():
        assert len(probs) >= 5, kind
        assert not any(p.meta["program"] in skip for p in probs)
        assert len({p.task_id for p in probs}) == len(probs)
    again = build_problems("gen-o", ctx.sandbox, n_programs=16)
    assert [(p.task_id, p.meta["output"]) for p in again] == [(p.task_id, p.meta["output"]) for p in problems["gen-o"]]
    f = problems["gen-f"][0]
    task = task_of("gen-f", f.meta)
    assert len(task.visible) == 2 and len(task.hidden) == 2


def _answer(kind: str, p, text: str) -> Sample:
    _, extract = TEMPLATES["azr-tiny"]
    completion, solution = extract(kind, p, f"ok\n</think>\n<answer>\n{text}\n</answer>")
    return Sample(p.task_id, 0, completion, solution)


def test_trainer_grading_gold_wrong_and_format_error(problems, ctx):
    for kind, probs in problems.items():
        p = probs[0]
        if GEN_TASK[kind] is TaskType.INDUCTION:
            gold = f"```python\n{p.meta['program']}\n```"
            wrong = "```python\ndef f(x):\n    return 'surely not this'\n```"
        elif GEN_TASK[kind] is TaskType.DEDUCTION:
            gold, wrong = p.meta["output"], "'surely not this'"
        else:
            gold, wrong = p.meta["input"], "'surely not this'"
        samples = [_answer(kind, p, gold), _answer(kind, p, wrong),
                   Sample(p.task_id, 2, "no tags at all", TEMPLATES["azr-tiny"][1](kind, p, "no tags at all")[1])]
        res = score(kind, probs, samples, ctx)
        assert [r.passed for r in res] == [True, False, False], (kind, res)
        assert res[2].status == "format_error"


def test_prompt_is_the_solver_prompt(problems):
    from azr.tasks.prompts import solver_prompt

    build, _ = TEMPLATES["azr-tiny"]
    for kind, probs in problems.items():
        p = probs[0]
        prompt, stops = build(kind, p)
        assert prompt == solver_prompt(GEN_TASK[kind], task_of(kind, p.meta), template_set="tiny")
        assert stops == ("</answer>",)


def test_cli_refuses_plain_template(tmp_path, capsys):
    from azr.cli import main

    assert main(["eval", "gen-o", "--model", "models/azr-tiny", "-o", str(tmp_path / "o")]) == 2
    assert "--template azr-tiny" in capsys.readouterr().err
