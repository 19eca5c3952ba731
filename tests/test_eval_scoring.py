"""Scoring: gold answers score 1.0, wrong ones 0; math-verify timeouts work off the main
thread; LiveCodeBench public tests; samples-file validation. (Agreement with the reference
harnesses is in test_eval_agreement.py.)"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from azr.eval.benchmarks import load_benchmark
from azr.eval.results import SamplesError, read_samples
from azr.eval.runner import score
from azr.eval.types import EvalSettings, Sample, ScoringContext

SHARED = Path(os.environ.get("AZR_TEST_DATA_DIR", "/work/shared/data/benchmarks"))
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"no benchmark data at {SHARED}")
MATH_SETS = ["aime24", "aime25", "amc23", "math500", "minerva_math", "olympiadbench", "gsm8k"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    settings = EvalSettings(cache_dir=str(tmp_path_factory.mktemp("gt")), progress=False,
                            lcb_test_timeout_s=1.0, math_workers=0)
    with ScoringContext(settings) as c:
        yield c


@pytest.mark.parametrize("mode", ["o", "i"])
def test_cruxeval_gold_answers_pass_and_wrong_ones_fail(ctx, mode):
    bench = f"cruxeval-{mode}"
    problems = load_benchmark(bench, SHARED, limit=30)
    gold = [Sample(p.task_id, 0, solution=p.reference) for p in problems]
    assert all(r.passed for r in score(bench, problems, gold, ctx))
    p = problems[0]
    wrong = [
        Sample(p.task_id, 0, solution="'definitely not it'"),
        Sample(p.task_id, 1, solution="f(" + p.meta["input"] + ")" if mode == "o" else "1, 2, 3, 4, 5, 6"),
        Sample(p.task_id, 2, solution="this is not python"),
        Sample(p.task_id, 3, solution=p.reference + ") or (True"),  # injection attempt
    ]
    results = score(bench, problems, wrong, ctx)
    assert not any(r.passed for r in results), results
    if mode == "o":  # outputs must be literals: `f(x)` cannot "predict" f(x)
        assert results[1].reason.startswith("answer_not_literal")


def test_math_gold_answers_pass_in_process_and_wrong_ones_fail(ctx):
    for bench in MATH_SETS:
        problems = load_benchmark(bench, SHARED, limit=8)
        gold = [Sample(p.task_id, 0, f"So the answer is $\\boxed{{{p.reference}}}$.") for p in problems]
        assert all(r.passed for r in score(bench, problems, gold, ctx)), bench
    problems = load_benchmark("gsm8k", SHARED, limit=3)
    wrong = [Sample(p.task_id, 0, "The answer is \\boxed{-123456}.") for p in problems]
    wrong.append(Sample(problems[0].task_id, 1, "no answer here"))
    wrong.append(Sample(problems[0].task_id, 2, f"<think>..</think><answer>{problems[0].reference}</answer>"))
    verdicts = [r.passed for r in score("gsm8k", problems, wrong, ctx)]
    assert verdicts == [False, False, False, False, True]


def test_math_scoring_from_a_worker_thread_is_not_silently_zero():
    """Off the main thread math-verify's signal timeouts fail, and its errors read as
    'wrong'; our scorer moves the work to a process's main thread instead."""
    from math_verify import parse, verify

    problems = load_benchmark("math500", SHARED, limit=4)
    samples = [Sample(p.task_id, 0, f"$\\boxed{{{p.reference}}}$") for p in problems]
    naive, ours = [], []

    def naive_worker():  # the common reward-function pattern: any error counts as wrong
        for p in problems:
            text = f"$\\boxed{{{p.reference}}}$"
            try:
                naive.append(bool(verify(parse(text), parse(text))))
            except ValueError:
                naive.append(False)

    def our_worker():
        settings = EvalSettings(math_workers=0, progress=False)  # 0 = in-process, but not allowed off main
        with ScoringContext(settings) as c:
            ours.extend(r.passed for r in score("math500", problems, samples, c))

    for target in (naive_worker, our_worker):
        t = threading.Thread(target=target)
        t.start()
        t.join(120)
    assert ours == [True] * len(problems)
    assert naive == [False] * len(problems)  # the failure mode we avoid


def test_livecodebench_public_tests(ctx):
    problems = load_benchmark("livecodebench", SHARED, limit=6)
    stdin_ok = "n = int(input())\na = list(map(int, input().split()))\nprint(a.index(sorted(a)[-2]) + 1)\n"
    functional_ok = (
        "class Solution:\n"
        "    def shortestDistanceAfterQueries(self, n: int, queries: List[List[int]]) -> List[int]:\n"
        "        adj = defaultdict(list)\n"
        "        for i in range(n - 1):\n"
        "            adj[i].append(i + 1)\n"
        "        out = []\n"
        "        for u, v in queries:\n"
        "            adj[u].append(v)\n"
        "            dist = {0: 0}\n"
        "            todo = deque([0])\n"
        "            while todo:\n"
        "                x = todo.popleft()\n"
        "                for y in adj[x]:\n"
        "                    if y not in dist:\n"
        "                        dist[y] = dist[x] + 1\n"
        "                        todo.append(y)\n"
        "            out.append(dist[n - 1])\n"
        "        return out\n"
    )
    samples = [
        Sample("LCB/0", 0, solution=stdin_ok),
        Sample("LCB/0", 1, solution="print(1)\n"),
        Sample("LCB/0", 2, solution="while True:\n    pass\n"),
        Sample("LCB/5", 0, solution=functional_ok),
        Sample("LCB/5", 1, solution="class Solution:\n    def shortestDistanceAfterQueries(self, n, q):\n        return [0] * len(q)\n"),
    ]
    results = score("livecodebench", problems, samples, ctx)
    assert [r.passed for r in results] == [True, False, False, True, False], results
    assert results[2].status == "timeout"


def test_read_samples_validates_input(tmp_path):
    problems = {p.task_id: p for p in load_benchmark("humaneval", SHARED, limit=2)}
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in [
        {"task_id": "HumanEval/0", "completion": "    return True\n"},
        {"task_id": "HumanEval/0", "solution": "def has_close_elements(a, b):\n    return 1\n"},
        {"task_id": "HumanEval/1", "completion": ""},
    ]) + "\n")
    samples = read_samples(good, problems)
    assert [(s.task_id, s.index) for s in samples] == [("HumanEval/0", 0), ("HumanEval/0", 1), ("HumanEval/1", 0)]
    assert samples[1].solution.startswith("def")
    for body, match in [
        ("not json\n", "not JSON"),
        ('{"completion": "x"}\n', "task_id"),
        ('{"task_id": "HumanEval/999", "completion": "x"}\n', "not in this benchmark"),
        ('{"task_id": "HumanEval/0"}\n', "completion"),
        ('{"task_id": "HumanEval/0", "completion": 3}\n', "string"),
        ("\n", "no samples"),
    ]:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(body)
        with pytest.raises(SamplesError, match=match):
            read_samples(bad, problems)
    with pytest.raises(SamplesError, match="not found"):
        read_samples(tmp_path / "missing.jsonl", problems)


def test_templates_build_prompts_and_extract_answers():
    from azr.eval.templates import TEMPLATES

    he = load_benchmark("humaneval", SHARED, limit=1)[0]
    cx = load_benchmark("cruxeval-i", SHARED, limit=1)[0]
    build, extract = TEMPLATES["plain"]
    prompt, stops = build("humaneval", he)
    assert prompt == he.prompt and "\ndef " in stops
    assert extract("humaneval", he, "    return 1\n\ndef other():\n    pass") == ("    return 1\n", None)
    prompt, _ = build("cruxeval-i", cx)
    assert prompt.endswith(f"assert {cx.meta['output']} == f(")
    assert extract("cruxeval-i", cx, "[1, 2])\nmore")[1] == "[1, 2]"
    build, extract = TEMPLATES["azr"]
    prompt, stops = build("humaneval", he)
    assert prompt.endswith("Assistant: <think>") and stops == ("</answer>",)
    text = "plan</think><answer>```python\ndef has_close_elements(a, b):\n    return False\n```</answer>"
    assert extract("humaneval", he, text)[1] == "def has_close_elements(a, b):\n    return False\n"
    body = "x</think><answer>\n    return False\n</answer>"
    assert extract("humaneval", he, body)[1] == he.prompt + "    return False\n"
    unindented = "x</think><answer>return False</answer>"
    assert extract("humaneval", he, unindented)[1] == he.prompt + "    return False\n"


def test_evalplus_recomputes_expected_outputs_too_large_to_ship(ctx, monkeypatch):
    """Expected outputs over GT_SHIP_LIMIT are recomputed inside each check job (before the
    candidate runs): verdicts are unchanged."""
    import azr.eval.code_scoring as cs

    monkeypatch.setattr(cs, "GT_SHIP_LIMIT", 0)
    problems = load_benchmark("mbppplus", SHARED, limit=3)
    gt = cs.evalplus_ground_truth(problems, ctx)
    assert all(gt[p.task_id][ph][0] is None for p in problems for ph in ("base", "plus"))
    samples = [Sample(p.task_id, 0, p.reference) for p in problems]
    samples += [Sample(p.task_id, 1, f"def {p.meta['entry_point']}(*a):\n    return None\n") for p in problems]
    verdicts = [r.passed for r in score("mbppplus", problems, samples, ctx)]
    assert verdicts == [True] * 3 + [False] * 3
