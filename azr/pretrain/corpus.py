"""The pretraining corpus: self-play episodes of generated programs, plus stdlib source.

Episodes use exactly the self-play templates (``azr.tasks.prompts``): a prompt followed by a
canonical completion (``render_proposal`` / ``render_solution``). Their inputs and outputs
come from executing the generated programs in the sandbox (``azr.executor``), never in this
process. Per program (with at least two inputs that ran) the corpus gets these episodes:

- a deduction or abduction proposer episode: K reference triplets of *other* programs in the
  prompt, this program and one of its inputs as the answer (the think block states the plan,
  i.e. the program's description);
- an induction proposer episode: this program in the prompt, N of its inputs and its
  description as the answer;
- deduction, abduction and induction solver episodes on this program's triplets
  (``CorpusConfig.solve_episodes`` of each; the extra ones come last, so with (1, 1, 1) the
  episodes are exactly those of the first corpus version). An induction solver answers with
  the program's canonical spelling (``GeneratedProgram.solution``) unless
  ``CorpusConfig.canonical_solutions`` is off.

Torch-free.
"""

from __future__ import annotations

import functools
import random
import sysconfig
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from azr.pretrain.config import CorpusConfig
from azr.tasks.generator import GeneratedProgram, generate_programs
from azr.tasks import prompts
from azr.tasks.prompts import render_proposal, render_solution
from azr.tasks.types import InductionTask, TaskType, Triplet

# azr-tiny is pretrained on the short "tiny" prompt set (self-play runs of it use the same set).
proposer_prompt = functools.partial(prompts.proposer_prompt, template_set="tiny")
solver_prompt = functools.partial(prompts.solver_prompt, template_set="tiny")

#: Outputs longer than this (characters) are dropped: they teach little and cost tokens.
MAX_OUTPUT_CHARS = 160

#: Think lines of the corpus's solver episodes (one picked at random per episode).
SOLVE_THINK = {
    TaskType.DEDUCTION: ("Run f on the input step by step.", "Trace the code on this input.",
                         "Compute the value f returns."),
    TaskType.ABDUCTION: ("I need an input that makes f return this output.",
                         "Work backwards from the output.", "Find arguments that give this result."),
    TaskType.INDUCTION: ("Write f from the hint and check it on the examples.",
                         "The examples and the hint describe f.", "Follow the hint."),
}


def execute_programs(
    programs: Sequence[GeneratedProgram], sandbox, timeout_s: float = 5.0, cross_process: bool = True
) -> list[list[tuple[str, str]]]:
    """Run every program on all its inputs in ``sandbox`` (an ``azr.executor.Sandbox``).

    Uses the self-play validation (static checks, time limit, determinism across two
    processes, literal outputs). Returns, per program, its (input, output repr) pairs, keeping
    outputs of at most ``MAX_OUTPUT_CHARS`` characters; empty when the program was rejected.
    """
    from azr.executor.validation import Proposal, ValidationLimits, validate

    limits = ValidationLimits(cross_process=cross_process)
    results = validate(sandbox, [Proposal(p.program, p.inputs) for p in programs], limits, timeout_s=timeout_s)
    out: list[list[tuple[str, str]]] = []
    for p, v in zip(programs, results):
        pairs: list[tuple[str, str]] = []
        if v.valid and v.outputs is not None:
            pairs = [(i, o) for i, o in zip(p.inputs, v.outputs) if len(o) <= MAX_OUTPUT_CHARS]
        out.append(pairs)
    return out


def _plan(message: str) -> str:
    return message[3:] if message.startswith("f: ") else message


def _induction_answer(prog: GeneratedProgram, cfg: CorpusConfig) -> str:
    return prog.solution if cfg.canonical_solutions and prog.solution else prog.program


def program_episodes(
    prog: GeneratedProgram,
    pairs: Sequence[tuple[str, str]],
    pool: Sequence[Triplet],
    rng: random.Random,
    cfg: CorpusConfig,
) -> list[tuple[str, str]]:
    """The episodes of one executed program as (group name, text) pairs.

    ``pool`` holds triplets of earlier programs, sampled as proposer references.
    """
    if len(pairs) < 2:
        return []
    triplets = [Triplet(prog.program, i, o) for i, o in pairs]
    episodes: list[tuple[str, str]] = []
    plan = _plan(prog.message)
    # proposer, deduction or abduction
    if pool:
        k = min(rng.choice(cfg.k_references), len(pool))
        refs = rng.sample(list(pool), k)
        tt = rng.choice((TaskType.DEDUCTION, TaskType.ABDUCTION))
        answer = render_proposal(tt, program=prog.program, input=rng.choice(triplets).input,
                                 think=f"Plan for f: {plan}")
        episodes.append((f"propose/{tt}", proposer_prompt(tt, refs) + answer))
    # proposer, induction
    n = min(rng.choice(cfg.induction_n_inputs), len(pairs))
    answer = render_proposal(TaskType.INDUCTION, inputs=[i for i, _ in pairs[:n]], message=prog.message,
                             think="Pick inputs that show what f does.")
    episodes.append(("propose/induction", proposer_prompt(TaskType.INDUCTION, triplets[:1], n_inputs=n) + answer))
    # solvers
    t_ded, t_abd = rng.choice(triplets), rng.choice(triplets)
    episodes.append(("solve/deduction", solver_prompt(TaskType.DEDUCTION, t_ded)
                     + render_solution(TaskType.DEDUCTION, t_ded.output,
                                       think=rng.choice(SOLVE_THINK[TaskType.DEDUCTION]))))
    episodes.append(("solve/abduction", solver_prompt(TaskType.ABDUCTION, t_abd)
                     + render_solution(TaskType.ABDUCTION, t_abd.input,
                                       think=rng.choice(SOLVE_THINK[TaskType.ABDUCTION]))))
    task = InductionTask(prog.program, tuple(pairs[:n]), prog.message)
    episodes.append(("solve/induction", solver_prompt(TaskType.INDUCTION, task)
                     + render_solution(TaskType.INDUCTION, _induction_answer(prog, cfg),
                                       think=rng.choice(SOLVE_THINK[TaskType.INDUCTION]))))
    episodes += _extra_solver_episodes(prog, pairs, triplets, (t_ded, t_abd), rng, cfg)
    return episodes


def _extra_solver_episodes(prog: GeneratedProgram, pairs, triplets: list[Triplet], used: tuple[Triplet, Triplet],
                           rng: random.Random, cfg: CorpusConfig) -> list[tuple[str, str]]:
    """Solver episodes beyond the first of each type (``cfg.solve_episodes``), on triplets other
    than the first episodes' when the program has enough of them."""
    out: list[tuple[str, str]] = []
    for tt, first, count in ((TaskType.DEDUCTION, used[0], cfg.solve_episodes[0]),
                             (TaskType.ABDUCTION, used[1], cfg.solve_episodes[1])):
        others = [t for t in triplets if t != first] or triplets
        for t in rng.sample(others, min(count - 1, len(others))):
            answer = t.output if tt is TaskType.DEDUCTION else t.input
            out.append((f"solve/{tt}", solver_prompt(tt, t)
                        + render_solution(tt, answer, think=rng.choice(SOLVE_THINK[tt]))))
    for _ in range(cfg.solve_episodes[2] - 1):
        shown = rng.sample(list(pairs), min(rng.choice(cfg.induction_n_inputs), len(pairs)))
        task = InductionTask(prog.program, tuple(shown), prog.message)
        out.append(("solve/induction", solver_prompt(TaskType.INDUCTION, task)
                    + render_solution(TaskType.INDUCTION, _induction_answer(prog, cfg),
                                      think=rng.choice(SOLVE_THINK[TaskType.INDUCTION]))))
    return out


def build_episodes(
    programs: Sequence[GeneratedProgram], executed: Sequence[Sequence[tuple[str, str]]], cfg: CorpusConfig
) -> tuple[list[str], Counter]:
    """Episodes of all programs (duplicates of a program text are skipped); returns (texts, counts per group)."""
    rng = random.Random(f"azr-episodes:{cfg.seed}")
    seen: set[str] = set()
    pool: list[Triplet] = []
    texts: list[str] = []
    counts: Counter = Counter()
    for prog, pairs in zip(programs, executed):
        if prog.program in seen or len(pairs) < 2:
            counts["skipped_programs"] += 1
            continue
        seen.add(prog.program)
        for group, text in program_episodes(prog, pairs, pool[-2000:], rng, cfg):
            texts.append(text)
            counts[group] += 1
        pool.append(Triplet(prog.program, *pairs[0]))
    return texts, counts


@functools.lru_cache(maxsize=2)
def _stdlib_chunks(chunk_chars: int) -> tuple[str, ...]:
    """All chunks (at line boundaries) of the stdlib ``.py`` files, in sorted file order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "idlelib", "tkinter", "lib2to3", "site-packages", "turtledemo", "__pycache__"}
    files = sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts))
    chunks: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        cur: list[str] = []
        size = 0
        for line in text.splitlines(keepends=True):
            cur.append(line)
            size += len(line)
            if size >= chunk_chars:
                chunks.append("".join(cur))
                cur, size = [], 0
        if cur:
            chunks.append("".join(cur))
    return tuple(chunks)


def stdlib_documents(max_chars: int, seed: int, chunk_chars: int = 3000) -> list[str]:
    """Chunks (at line boundaries) of standard-library ``.py`` files, seeded sample up to ``max_chars``.

    Tests, IDLE, tkinter, lib2to3 and site-packages are excluded. Which files exist depends on
    the Python version, so this part of the corpus is deterministic per Python version.
    """
    chunks = list(_stdlib_chunks(chunk_chars))
    random.Random(f"azr-stdlib:{seed}").shuffle(chunks)
    out: list[str] = []
    total = 0
    for c in chunks:
        if total >= max_chars:
            break
        out.append(c)
        total += len(c)
    return out


def build_corpus(cfg: CorpusConfig, sandbox, index=None) -> tuple[list[str], dict]:
    """The whole corpus (shuffled documents) and its statistics.

    ``sandbox`` executes the generated programs; ``index`` (a ``decontam.BenchmarkIndex``)
    removes documents overlapping the benchmarks, when given.
    """
    from azr.pretrain.decontam import decontaminate

    programs = generate_programs(cfg.n_programs, cfg.seed, n_inputs=cfg.n_inputs)
    executed = execute_programs(programs, sandbox, cross_process=cfg.cross_process_check)
    n_ran = sum(1 for pairs in executed if pairs)
    n_pairs = sum(len(pairs) for pairs in executed)
    episodes, counts = build_episodes(programs, executed, cfg)
    ep_chars = sum(len(t) for t in episodes)
    frac = cfg.stdlib_fraction
    stdlib = stdlib_documents(int(ep_chars * frac / max(1e-9, 1 - frac)), cfg.seed) if frac > 0 else []
    stats: dict = {
        "programs": len(programs),
        "programs_ran": n_ran,
        "pairs_ran": n_pairs,
        "pairs_total": sum(len(p.inputs) for p in programs),
        "episodes": dict(sorted(counts.items())),
        "episode_chars": ep_chars,
        "stdlib_documents": len(stdlib),
        "stdlib_chars": sum(len(t) for t in stdlib),
    }
    docs = episodes + stdlib
    if index is not None:
        docs, report = decontaminate(docs, index)
        stats["decontamination"] = report.to_dict()
    random.Random(f"azr-corpus:{cfg.seed}").shuffle(docs)
    stats["documents"] = len(docs)
    stats["chars"] = sum(len(d) for d in docs)
    return docs, stats
