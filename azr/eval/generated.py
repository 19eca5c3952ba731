"""Generator benchmarks ``gen-o`` / ``gen-i`` / ``gen-f``: held-out generated tasks per type.

Programs come from the seeded grammar of :mod:`azr.tasks.generator` under
``GEN_BENCH_SEED``, a seed no other part of azr uses (pretraining corpus: 0, its
``--measure`` set: 1_000_003, RLVR/SFT generated data: 80_000 + seed, in-training
validation: 987_654_321). A program whose text equals a program of the bundled model's
pretraining corpus (seed 0, ``CORPUS_PROGRAMS`` programs) or of the RLVR dataset
(seed 80_000, ``RLVR_PROGRAMS`` programs) is skipped, so the sets are held out from both
by construction (the grammar is small: about 6% of programs coincide).

Outputs are computed by running every program in the sandbox twice (two worker processes);
a pair whose runs fail, differ, or do not read back as a literal is dropped.

- ``gen-o`` (deduction): program + input -> predict the output;
- ``gen-i`` (abduction): program + output -> find an input;
- ``gen-f`` (induction): message + visible pairs -> write the program, checked on hidden pairs
  (4 pairs, 2 visible).

Scored as the trainer grades a solver answer: the ``azr``/``azr-tiny`` templates build the
self-play solver prompt (``azr.tasks.prompts.solver_prompt``) and parse with the trainer's
parser (``azr.tasks.parsing.parse_solution``); the scorer here verifies the parsed answer with
the trainer's environment (``azr.selfplay.env.CodeEnv.verify``). pass@k comes from the
generic summariser (k up to n).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from azr.eval.types import SampleResult
from azr.tasks.types import InductionTask, TaskType, Triplet

#: Generator seed of the benchmark programs (used nowhere else in azr).
GEN_BENCH_SEED = 2_718_281
#: Programs drawn per benchmark before filtering (problem i of a type uses program i).
GEN_BENCH_PROGRAMS = 320
#: Programs of the bundled model's pretraining corpus (seed 0) excluded by text.
CORPUS_PROGRAMS = 5_000
#: Programs of the default RLVR/SFT dataset (seed 80_000) excluded by text.
RLVR_PROGRAMS = 2_048
#: Inputs per program (induction keeps 4 pairs, 2 visible).
N_INPUTS = 6
INDUCTION_PAIRS = 4
MAX_OUTPUT_CHARS = 120

GEN_TASK: dict[str, TaskType] = {
    "gen-o": TaskType.DEDUCTION,
    "gen-i": TaskType.ABDUCTION,
    "gen-f": TaskType.INDUCTION,
}
"""Benchmark kind -> the self-play task type it is scored as."""

#: Marker answer of a completion that does not parse (graded wrong without running anything).
FORMAT_ERROR_PREFIX = "<format error"


def excluded_programs() -> frozenset[str]:
    """Program texts of the pretraining corpus and of the default RLVR dataset."""
    from azr.tasks.generator import generate_programs

    corpus = generate_programs(CORPUS_PROGRAMS, 0, n_inputs=1)
    rlvr = generate_programs(RLVR_PROGRAMS, 80_000, n_inputs=1)
    return frozenset(p.program for p in (*corpus, *rlvr))


def _run_outputs(programs, sandbox) -> dict[int, list[tuple[str, str]]]:
    """``{program index: [(input, output), ...]}`` of inputs whose two sandbox runs agree."""
    from azr.executor import Job, parse_literal

    jobs, index = [], []
    for i, prog in enumerate(programs):
        for inp in prog.inputs:
            for replica in (0, 1):
                jobs.append(Job(code=prog.program, expr=f"f({inp})", timeout_s=2.0, replica=replica))
            index.append((i, inp))
    results = sandbox.run(jobs)
    out: dict[int, list[tuple[str, str]]] = {}
    for k, (i, inp) in enumerate(index):
        a, b = results[2 * k], results[2 * k + 1]
        if a.ok and b.ok and a.value == b.value and parse_literal(a.value, MAX_OUTPUT_CHARS)[0]:
            out.setdefault(i, []).append((inp, a.value))
    return out


def build_problems(kind: str, sandbox, n_programs: int = GEN_BENCH_PROGRAMS) -> list:
    """The problems of benchmark ``kind`` (``gen-o`` | ``gen-i`` | ``gen-f``), deterministic.

    Returns ``azr.eval.benchmarks.Problem`` rows whose ``meta`` holds the task
    (``program``, ``input``, ``output`` or ``pairs``/``n_visible``/``message``)."""
    from azr.eval.benchmarks import Problem
    from azr.tasks.generator import generate_programs

    task_type = GEN_TASK[kind]
    skip = excluded_programs()
    programs = [p for p in generate_programs(n_programs, GEN_BENCH_SEED, n_inputs=N_INPUTS)
                if p.program not in skip]
    outputs = _run_outputs(programs, sandbox)
    problems = []
    for i, prog in enumerate(programs):
        pairs = outputs.get(i, [])
        tid = f"{kind}/{i}"
        if task_type is TaskType.INDUCTION:
            if len(pairs) < INDUCTION_PAIRS:
                continue
            kept = pairs[:INDUCTION_PAIRS]
            meta = {"program": prog.program, "pairs": json.dumps(kept), "n_visible": INDUCTION_PAIRS // 2,
                    "message": prog.message}
            problems.append(Problem(tid, prog.message, prog.program, meta))
        elif pairs:
            inp, outp = pairs[0]
            meta = {"program": prog.program, "input": inp, "output": outp}
            gold = outp if task_type is TaskType.DEDUCTION else inp
            problems.append(Problem(tid, prog.program, gold, meta))
    return problems


def task_of(kind: str, meta) -> Triplet | InductionTask:
    """The self-play task of a generator problem's ``meta``."""
    if GEN_TASK[kind] is TaskType.INDUCTION:
        pairs = tuple(tuple(p) for p in json.loads(meta["pairs"]))
        return InductionTask(meta["program"], pairs, meta["message"], int(meta["n_visible"]))
    return Triplet(meta["program"], meta["input"], meta["output"])


def load_generated(kind: str, cache_dir: str | Path | None = None) -> list:
    """The problems of ``kind``, from a JSON cache keyed by the benchmark's constants when
    ``cache_dir`` is given (building them starts a sandbox: a few seconds)."""
    from azr.eval.benchmarks import Problem
    from azr.executor import ExecutorConfig, Sandbox

    import hashlib

    import azr.tasks.generator as grammar

    version = hashlib.sha256(Path(grammar.__file__).read_bytes()).hexdigest()[:12]  # a changed grammar: rebuilt
    key = f"{kind}-s{GEN_BENCH_SEED}-p{GEN_BENCH_PROGRAMS}-x{CORPUS_PROGRAMS}-{RLVR_PROGRAMS}-i{N_INPUTS}-g{version}.json"
    path = Path(cache_dir).expanduser() / "generated" / key if cache_dir else None
    if path is not None and path.is_file():
        try:
            rows = json.loads(path.read_text())
            return [Problem(r["task_id"], r["prompt"], r["reference"], r["meta"]) for r in rows]
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache is rebuilt
    box = Sandbox(ExecutorConfig(workers=2))
    try:
        problems = build_problems(kind, box)
    finally:
        box.close()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps([{"task_id": p.task_id, "prompt": p.prompt, "reference": p.reference,
                                        "meta": dict(p.meta)} for p in problems]))
            tmp.replace(path)
        except OSError:
            pass  # no cache: rebuilt next time
    return problems


def score_generated(kind: str):
    """Scorer of ``kind``: the parsed answer (``Sample.solution``) verified by the trainer's
    ``CodeEnv.verify``; an answer that did not parse is a format error (nothing runs)."""

    def score(problems, samples: Sequence, ctx) -> list[SampleResult]:
        from azr.selfplay.env import CodeEnv

        env = CodeEnv(ctx.sandbox)
        task_type = GEN_TASK[kind]
        results: list[SampleResult | None] = [None] * len(samples)
        todo = []
        for j, s in enumerate(samples):
            answer = (s.solution if s.solution is not None else s.completion).strip()
            if answer.startswith(FORMAT_ERROR_PREFIX):
                results[j] = SampleResult(s.task_id, s.index, False, "format_error", answer[:300])
            else:
                todo.append((j, answer))
        step = max(ctx.settings.batch, ctx.settings.workers)
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            tasks = [task_of(kind, problems[samples[j].task_id].meta) for j, _ in chunk]
            verdicts = env.verify(task_type, tasks, [a for _, a in chunk])
            for (j, _), (ok, reason) in zip(chunk, verdicts):
                s = samples[j]
                results[j] = SampleResult(s.task_id, s.index, bool(ok), "pass" if ok else "fail",
                                          "" if ok else str(reason)[:300])
        return [r for r in results if r is not None]

    return score
