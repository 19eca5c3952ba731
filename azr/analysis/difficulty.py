"""Difficulty evolution (the study's RQ2): are later-proposed questions harder?

1. ``draw_questions``: deduction entries of a run's buffers, grouped into step buckets
   (``bucket = step // every * every``, every 25th step by default), up to ``per_bucket``
   distinct questions per bucket, drawn with a seeded RNG (the study: 800 questions;
   ``per_bucket_for`` spreads a total evenly over the buckets). The base model's seed
   proposals (step 0, written before training) form their own bucket ``SEED_BUCKET`` by
   default instead of landing among the questions of steps 1-24.
2. ``solve_questions``: ``samples`` responses per question from a model (rollout engine,
   the solver prompt ``azr.tasks.prompts.solver_prompt``), parsed with
   ``azr.tasks.parsing.parse_solution`` and checked by a batched verifier (default
   ``azr.executor.verification.verify_deduction``: literals compared by value, never evaluated).
3. ``aggregate``: mean solve rate (over questions of the per-question solve rate) with its
   standard error, and mean response length in tokens, per (model, bucket).

Steps 1 and 3 are pure and torch-free; step 2 takes the engine and verifier as arguments.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from azr.analysis.rundir import load_buffer_entries


@dataclass(frozen=True)
class Question:
    """One deduction question drawn from a buffer entry."""

    bucket: int  # first step of the bucket its proposing step falls into
    step: int  # the step that proposed it
    hash: str
    program: str
    input: str
    output: str  # gold output (repr)


@dataclass(frozen=True)
class Attempt:
    """One sampled response to a question."""

    model: str
    question: int  # index into the question list
    correct: bool
    length: int  # response length in tokens
    parsed: bool  # the answer block parsed


SEED_BUCKET = -1
"""Bucket of the base model's seed proposals (step 0) with ``seeds="separate"``."""
SEED_MODES = ("separate", "exclude", "include")


def bucket_of(step: int, every: int, seeds: str = "include") -> int | None:
    """The bucket of a proposing step; step 0 (seed proposals) goes to ``SEED_BUCKET``
    (``seeds="separate"``), nowhere (``"exclude"``: None) or bucket 0 (``"include"``)."""
    if every < 1:
        raise ValueError(f"bucket width must be >= 1, got {every}")
    if seeds not in SEED_MODES:
        raise ValueError(f"seeds must be one of {SEED_MODES}, got {seeds!r}")
    if step == 0 and seeds != "include":
        return SEED_BUCKET if seeds == "separate" else None
    return step // every * every


def bucket_label(bucket: int, every: int) -> str:
    return "seed (step 0)" if bucket == SEED_BUCKET else f"{bucket}-{bucket + every - 1}"


def draw_questions(entries: Sequence[dict], per_bucket: int, every: int = 25, seed: int = 0,
                   min_step: int = 0, seeds: str = "separate") -> list[Question]:
    """Up to ``per_bucket`` distinct deduction questions per step bucket (sorted by bucket).

    Entries need ``step``, ``program``, ``input``, ``output``; others (induction entries,
    malformed ones, steps below ``min_step``) are skipped. Duplicate programs+inputs are
    drawn once. A bucket with fewer entries than ``per_bucket`` contributes what it has
    (``summary`` reports n per bucket, so an unbalanced set is visible)."""
    if per_bucket < 1:
        raise ValueError(f"per_bucket must be >= 1, got {per_bucket}")
    groups: dict[int, dict[tuple[str, str], Question]] = {}
    for e in entries:
        step = e.get("step")
        if not isinstance(step, int) or step < min_step:
            continue
        if not all(isinstance(e.get(k), str) for k in ("program", "input", "output")):
            continue
        b = bucket_of(step, every, seeds)
        if b is None:
            continue
        key = (e["program"], e["input"])
        q = Question(b, step, str(e.get("hash", "")), e["program"], e["input"], e["output"])
        if key not in groups.setdefault(b, {}) or step < groups[b][key].step:
            groups[b][key] = q
    rng = random.Random(seed)
    out: list[Question] = []
    for b in sorted(groups):
        pool = sorted(groups[b].values(), key=lambda q: (q.step, q.hash, q.program, q.input))
        out += pool if len(pool) <= per_bucket else sorted(rng.sample(pool, per_bucket),
                                                             key=lambda q: (q.step, q.hash))
    return out


def per_bucket_for(entries: Sequence[dict], total: int, every: int = 25, min_step: int = 0,
                   seeds: str = "separate") -> int:
    """Questions per bucket so that the buckets together hold about ``total`` questions (the
    study: 800, e.g. 20 buckets of 40 over 500 steps): ``total // number of buckets``, at least 1."""
    if total < 1:
        raise ValueError(f"the number of questions must be >= 1, got {total}")
    buckets = {bucket_of(e["step"], every, seeds) for e in entries
               if isinstance(e.get("step"), int) and e["step"] >= min_step}
    buckets.discard(None)
    return max(1, total // max(1, len(buckets)))


def questions_from_run(run: str | Path, per_bucket: int | None = None, every: int = 25, seed: int = 0,
                       min_step: int = 0, seeds: str = "separate", total: int = 800) -> list[Question]:
    """``draw_questions`` over every deduction entry the run kept (buffers + snapshots);
    without ``per_bucket``, ``total`` questions spread evenly over the buckets."""
    entries = load_buffer_entries(run, "deduction")
    if per_bucket is None:
        per_bucket = per_bucket_for(entries, total, every, min_step, seeds)
    return draw_questions(entries, per_bucket, every, seed, min_step, seeds)


Verifier = Callable[[Sequence[tuple[Question, str]]], list[bool]]


def deduction_verifier(items: Sequence[tuple[Question, str]]) -> list[bool]:
    """The default ``Verifier``: ``azr.executor.verification.verify_deduction`` (the answer and
    the gold output are parsed as literals and compared by value; nothing is evaluated, so
    no sandbox is needed for deduction)."""
    from azr.executor.verification import verify_deduction

    return [verify_deduction(q.output, answer).correct for q, answer in items]


def solve_questions(engine, questions: Sequence[Question], model_label: str,
                    verify: Verifier = deduction_verifier, *,
                    samples: int = 8, max_new_tokens: int = 512, temperature: float = 1.0,
                    seed: int = 0, template_set: str = "reference", answer_format: str = "reference"
                    ) -> list[Attempt]:
    """``samples`` responses per question from ``engine`` (a ``RolloutEngine``), verified;
    prompted and parsed as the run's solver was (``selfplay.template_set`` / ``answer_format``).

    ``verify([(question, answer), ...]) -> [correct, ...]`` checks parsed answers in bulk."""
    from azr.rollout.types import SamplingParams
    from azr.tasks.parsing import parse_solution
    from azr.tasks.prompts import solver_prompt
    from azr.tasks.types import TaskType, Triplet

    prompts = [solver_prompt(TaskType.DEDUCTION, Triplet(q.program, q.input, q.output), template_set=template_set)
               for q in questions]
    params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, n=samples, seed=seed)
    completions = engine.generate(prompts, params)
    pending: list[tuple[int, int, str]] = []  # (question index, length, answer)
    attempts: list[Attempt] = []
    for qi, cs in enumerate(completions):
        for c in cs:
            parsed = parse_solution(TaskType.DEDUCTION, c.text, answer_format=answer_format)
            if parsed.ok:
                pending.append((qi, len(c.token_ids), parsed.answer))
            else:
                attempts.append(Attempt(model_label, qi, False, len(c.token_ids), False))
    verdicts = verify([(questions[qi], ans) for qi, _, ans in pending]) if pending else []
    if len(verdicts) != len(pending):
        raise RuntimeError(f"verifier returned {len(verdicts)} verdicts for {len(pending)} answers")
    attempts += [Attempt(model_label, qi, bool(v), n, True) for (qi, n, _), v in zip(pending, verdicts)]
    return sorted(attempts, key=lambda a: a.question)


@dataclass(frozen=True)
class BucketStat:
    model: str
    bucket: int
    questions: int
    responses: int
    solve_rate: float  # mean over questions of the per-question solve rate
    solve_rate_se: float  # standard error over questions (0 with one question)
    response_length: float  # mean tokens per response
    parse_rate: float  # share of responses whose answer parsed


def aggregate(questions: Sequence[Question], attempts: Sequence[Attempt]) -> list[BucketStat]:
    """Per (model, bucket) solve rate and response length; sorted by model then bucket."""
    per_q: dict[tuple[str, int], list[Attempt]] = {}
    for a in attempts:
        if not 0 <= a.question < len(questions):
            raise ValueError(f"attempt refers to question {a.question} of {len(questions)}")
        per_q.setdefault((a.model, a.question), []).append(a)
    cells: dict[tuple[str, int], list[list[Attempt]]] = {}
    for (model, qi), atts in per_q.items():
        cells.setdefault((model, questions[qi].bucket), []).append(atts)
    out = []
    for (model, bucket), qs in sorted(cells.items()):
        rates = [sum(a.correct for a in atts) / len(atts) for atts in qs]
        flat = [a for atts in qs for a in atts]
        mean = sum(rates) / len(rates)
        var = sum((r - mean) ** 2 for r in rates) / (len(rates) - 1) if len(rates) > 1 else 0.0
        out.append(BucketStat(model, bucket, len(qs), len(flat), mean, math.sqrt(var / len(rates)),
                              sum(a.length for a in flat) / len(flat), sum(a.parsed for a in flat) / len(flat)))
    return out


def to_json(run: str, questions: Sequence[Question], stats: Sequence[BucketStat], every: int,
            settings: dict) -> dict:
    """The file ``azr analyze difficulty --output`` writes and ``azr report`` reads."""
    return {"run": run, "bucket_every": every, "settings": settings,
            "questions_per_bucket": {str(b): n for b, n in count_buckets(questions).items()},
            "stats": [asdict(s) for s in stats]}


def count_buckets(questions: Sequence[Question]) -> dict[int, int]:
    out: dict[int, int] = {}
    for q in questions:
        out[q.bucket] = out.get(q.bucket, 0) + 1
    return dict(sorted(out.items()))


def format_table(stats: Sequence[BucketStat], every: int) -> str:
    lines = [f"{'model':<24} {'steps':>11} {'questions':>9} {'responses':>9} {'solve rate':>16} "
             f"{'length':>7} {'parsed':>7}"]
    for s in stats:
        lines.append(f"{s.model[:24]:<24} {bucket_label(s.bucket, every):>11} {s.questions:>9} "
                     f"{s.responses:>9} {f'{s.solve_rate:.3f} ± {s.solve_rate_se:.3f}':>16} "
                     f"{s.response_length:>7.1f} {s.parse_rate:>7.1%}")
    return "\n".join(lines)
