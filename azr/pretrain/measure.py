"""Measure a base model on the six (task, role) groups, at the self-play sampling temperature.

Two prompt sets:

- ``fresh``: tasks built from generator programs of a seed the corpus never used (executed in
  the sandbox): solver prompts for each task type, proposer prompts with K fresh reference
  triplets (deduction/abduction) or one fresh program (induction);
- ``selfplay``: the proposer prompts self-play starts from, whose only reference is the
  identity ``ZERO_TRIPLET`` (the seed of every buffer).

Scores: format rate (the completion parses), valid-proposal rate (the sandbox accepts the
program and inputs: static checks, time limit, determinism, literal outputs), novelty (valid
and not a program of the training corpus), solver accuracy (verified in the sandbox).

Sampled accuracies of a few percent are noisy (at 256 samples a 3% rate has a standard error
of 1.1 points), so the fresh solver groups also get two teacher-forced scores of the
*reference* answer (the generator's output, input or program), which need no sampling:
``ref_nll``, its mean negative log-likelihood per token, and ``ref_prob``, the mean probability
of writing exactly that answer at temperature 1 (a smooth stand-in for accuracy when comparing
models; other answers can be correct too).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from azr.tasks.generator import generate_programs
from azr.tasks import parsing, prompts

# azr-tiny's own prompt set and entry rule (its pretraining programs have top-level helpers),
# and the answer format its shipped numbers were measured with.
proposer_prompt = functools.partial(prompts.proposer_prompt, template_set="tiny")
solver_prompt = functools.partial(prompts.solver_prompt, template_set="tiny")
parse_proposal = functools.partial(parsing.parse_proposal, entry_rule="lenient", answer_format="lenient")
parse_solution = functools.partial(parsing.parse_solution, answer_format="lenient")
from azr.tasks.types import ZERO_TRIPLET, InductionTask, TaskType, Triplet


@dataclass(frozen=True)
class MeasureConfig:
    """How a model is measured."""

    n_per_group: int = 64
    """Prompts (one sample each) per (task, role) group and prompt set."""
    seed: int = 1_000_003
    """Seed of the fresh generator programs and of sampling (must differ from the corpus seed)."""
    k_references: int = 2
    """Reference triplets in fresh deduction/abduction proposer prompts (the tiny preset's K)."""
    induction_n_inputs: int = 4
    """Inputs an induction proposer prompt asks for (the tiny preset's N)."""
    temperature: float = 1.0
    """Sampling temperature (self-play rolls out at 1.0)."""
    max_new_tokens: int = 160
    """Completion budget per sample (the tiny preset's)."""
    batch_size: int = 16
    """Prompts per ``generate`` call (samples depend on it: compare models at equal batch sizes)."""
    reference_scores: bool = True
    """Also score the reference answers of the fresh solver tasks (``ref_nll``, ``ref_prob``)."""


def sample(model, tokenizer, prompts: Sequence[str], cfg: MeasureConfig, seed: int) -> list[str]:
    """One completion per prompt, sampled from the full distribution (no top-k/top-p)."""
    return [text for text, _ in sample_with_lengths(model, tokenizer, prompts, cfg, seed)]


def sample_with_lengths(model, tokenizer, prompts: Sequence[str], cfg: MeasureConfig, seed: int) -> list[tuple[str, int]]:
    """(completion text, generated tokens before EOS) per prompt; seeded."""
    import torch

    torch.manual_seed(seed)
    out: list[tuple[str, int]] = []
    model.eval()
    for start in range(0, len(prompts), cfg.batch_size):
        batch = list(prompts[start : start + cfg.batch_size])
        enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            gen = model.generate(
                **enc, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                max_new_tokens=cfg.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        new = gen[:, enc["input_ids"].shape[1] :]
        is_eos = new == tokenizer.eos_token_id  # EOS also pads rows that finished early
        lengths = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.tensor(new.shape[1])).tolist()
        out.extend(zip(tokenizer.batch_decode(new, skip_special_tokens=True), lengths))
    return out


def answer_logprobs(model, tokenizer, contexts: Sequence[str], answers: Sequence[str],
                    batch_size: int = 16) -> list[tuple[float, int]]:
    """(summed log-probability, token count) of each answer followed by EOS, after its context.

    Teacher-forced over right-padded ``context + answer + EOS`` rows [B, L], scored on the
    answer positions only by the RL core's chunked ``policy_logprobs`` (no full-vocabulary
    logits); context and answer are tokenized separately, as in sampling.
    """
    import torch

    from azr.rl.logprobs import policy_logprobs

    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = []
    model.eval()
    for start in range(0, len(contexts), batch_size):
        ctx = tokenizer(list(contexts[start : start + batch_size]), add_special_tokens=False)["input_ids"]
        ans = tokenizer(list(answers[start : start + batch_size]), add_special_tokens=False)["input_ids"]
        rows = [c + a + [eos] for c, a in zip(ctx, ans)]
        ids = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        score = torch.zeros_like(ids)
        for i, (r, c) in enumerate(zip(rows, ctx)):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
            score[i, len(c) : len(r)] = 1  # the answer's tokens and EOS
        with torch.no_grad():
            logp, _ = policy_logprobs(model, ids.to(device), mask.to(device), score.to(device))
        sums = logp.sum(-1).cpu()
        out.extend((float(sums[i]), len(r) - len(c)) for i, (r, c) in enumerate(zip(rows, ctx)))
    return out


def reference_scores(model, tokenizer, triplets: Sequence[Triplet], inductions: Sequence[InductionTask],
                     solutions: Sequence[str], batch_size: int = 16) -> dict[str, float]:
    """``fresh/solve/{task}/ref_nll`` and ``/ref_prob`` of the reference answers (see the module doc).

    References: the triplet's output (deduction), its input (abduction), the canonical
    spelling in ``solutions`` (induction; what the corpus teaches). The context is the solver
    prompt and the corpus's first think line; the scored span runs from ``<answer>`` to EOS.
    """
    import math

    from azr.pretrain.corpus import SOLVE_THINK
    from azr.tasks.prompts import render_solution

    D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
    groups = {D: [(solver_prompt(D, t), t.output) for t in triplets],
              A: [(solver_prompt(A, t), t.input) for t in triplets],
              I: [(solver_prompt(I, t), sol) for t, sol in zip(inductions, solutions)]}
    metrics: dict[str, float] = {}
    for tt, items in groups.items():
        contexts, answers = [], []
        for prompt, answer in items:
            completion = render_solution(tt, answer, think=SOLVE_THINK[tt][0])
            cut = completion.index("<answer>")
            contexts.append(prompt + completion[:cut])
            answers.append(completion[cut:])
        scores = answer_logprobs(model, tokenizer, contexts, answers, batch_size)
        if scores:
            metrics[f"fresh/solve/{tt}/ref_nll"] = round(-sum(lp for lp, _ in scores) / sum(n for _, n in scores), 4)
            metrics[f"fresh/solve/{tt}/ref_prob"] = round(sum(math.exp(lp) for lp, _ in scores) / len(scores), 4)
    return metrics


def _rate(xs: Sequence[bool]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0


def fresh_tasks(sandbox, cfg: MeasureConfig) -> tuple[list[Triplet], list[InductionTask], list[str]]:
    """Triplets (one per program), induction tasks and the programs' canonical spellings
    (``GeneratedProgram.solution``) from unseen generator programs."""
    from azr.pretrain.corpus import execute_programs

    n_inputs = max(cfg.induction_n_inputs, 2)
    progs = generate_programs(cfg.n_per_group * 2, cfg.seed, n_inputs=n_inputs)
    executed = execute_programs(progs, sandbox)
    triplets, inductions, solutions = [], [], []
    for p, pairs in zip(progs, executed):
        if len(pairs) >= 2:
            triplets.append(Triplet(p.program, *pairs[0]))
            inductions.append(InductionTask(p.program, tuple(pairs), p.message))
            solutions.append(p.solution or p.program)
    return triplets, inductions, solutions


def measure(model, tokenizer, sandbox, cfg: MeasureConfig = MeasureConfig(),
            training_programs: frozenset[str] = frozenset()) -> tuple[dict, dict]:
    """(metrics, example completions per group). Metric keys: ``{set}/{role}/{task}/{name}``."""
    from azr.executor.validation import Proposal, validate
    from azr.executor.verification import VerifyRequest, verify

    rng = random.Random(cfg.seed)
    n = cfg.n_per_group
    triplets, inductions, solutions = fresh_tasks(sandbox, cfg)
    if len(triplets) < n + cfg.k_references:
        raise RuntimeError(f"only {len(triplets)} fresh tasks ran; need {n + cfg.k_references}")
    D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
    jobs: list[tuple[str, TaskType, str, str, object]] = []  # (set, task, role, prompt, context)
    for k in range(n):
        t, ind = triplets[k], inductions[k]
        jobs.append(("fresh", D, "solve", solver_prompt(D, t), t))
        jobs.append(("fresh", A, "solve", solver_prompt(A, t), t))
        jobs.append(("fresh", I, "solve", solver_prompt(I, ind), ind))
        others = [x for j, x in enumerate(triplets) if j != k]
        for tt in (D, A):
            refs = rng.sample(others, cfg.k_references)
            jobs.append(("fresh", tt, "propose", proposer_prompt(tt, refs), refs))
        jobs.append(("fresh", I, "propose", proposer_prompt(I, [t], n_inputs=cfg.induction_n_inputs), t))
        for tt in (D, A):
            jobs.append(("selfplay", tt, "propose", proposer_prompt(tt, [ZERO_TRIPLET]), [ZERO_TRIPLET]))
        jobs.append(("selfplay", I, "propose",
                     proposer_prompt(I, [ZERO_TRIPLET], n_inputs=cfg.induction_n_inputs), ZERO_TRIPLET))
    sampled = sample_with_lengths(model, tokenizer, [j[3] for j in jobs], cfg, cfg.seed)

    results: dict[str, list[bool]] = {}
    lengths: dict[str, list[int]] = {}
    examples: dict[str, list[str]] = {}
    proposals, prop_keys, prop_programs = [], [], []
    requests, req_keys = [], []
    for (pset, tt, role, _, ctx), (text, n_tokens) in zip(jobs, sampled):
        key = f"{pset}/{role}/{tt}"
        lengths.setdefault(key, []).append(n_tokens)
        examples.setdefault(key, [])
        if len(examples[key]) < 2:
            examples[key].append(text)
        if role == "propose":
            parsed = parse_proposal(tt, text)
            results.setdefault(f"{key}/format_rate", []).append(parsed.ok)
            if not parsed.ok:
                results.setdefault(f"{key}/valid_rate", []).append(False)
                if tt is not I:
                    results.setdefault(f"{key}/novel_rate", []).append(False)
                continue
            if tt is I:
                proposals.append(Proposal(ctx.program, parsed.inputs))
                prop_programs.append(None)
            else:
                proposals.append(Proposal(parsed.program, (parsed.input,)))
                prop_programs.append(parsed.program)
            prop_keys.append((key, ctx))
        else:
            parsed = parse_solution(tt, text)
            results.setdefault(f"{key}/format_rate", []).append(parsed.ok)
            if not parsed.ok:
                results.setdefault(f"{key}/accuracy", []).append(False)
                continue
            if tt is I:
                requests.append(VerifyRequest("induction", answer=parsed.answer, pairs=ctx.hidden))
            else:
                requests.append(VerifyRequest(str(tt), answer=parsed.answer, program=ctx.program, output=ctx.output))
            req_keys.append(key)
    for (key, ctx), prog, v in zip(prop_keys, prop_programs, validate(sandbox, proposals)):
        results.setdefault(f"{key}/valid_rate", []).append(v.valid)
        if prog is not None:  # deduction/abduction: a new program, not a training one or a reference
            known = training_programs | {r.program for r in ctx}
            results.setdefault(f"{key}/novel_rate", []).append(v.valid and prog.strip() not in known)
    for key, verdict in zip(req_keys, verify(sandbox, requests)):
        results.setdefault(f"{key}/accuracy", []).append(verdict.correct)
    metrics = {k: _rate(v) for k, v in sorted(results.items())}
    for key, ls in sorted(lengths.items()):
        metrics[f"{key}/response_tokens_mean"] = round(sum(ls) / len(ls), 1)
    if cfg.reference_scores:
        metrics.update(reference_scores(model, tokenizer, triplets[:n], inductions[:n], solutions[:n], cfg.batch_size))
    metrics["n_per_group"] = n
    return metrics, examples
