"""One self-play step's experience: propose -> validate -> estimate solve rates -> solve ->
verify -> reward. The policy update over the result lives in ``azr.selfplay.update``.

For each task type (deduction, abduction, induction), in one batched generate call per
phase across the types:

1. proposer prompts with K references from the buffers; one completion each;
2. parse, then validate in the sandbox; valid proposals become tasks;
3. each valid task's solve rate s from ``learnability_samples`` solver samples drawn at the
   rollout temperature (never greedily: that was a defect of the reference code); these
   samples get no gradient;
4. valid tasks enter the buffer tagged with this step (and s);
5. the solver batch (``selfplay.solver_source``): by default the tasks of the previous step,
   backfilled from the buffer without replacement (the reference's), or this step's new
   tasks first with a backfill with replacement (``current``);
6. solver completions, verified in the sandbox;
7. rewards: solver 1 / ``reward.solver_wrong``, proposer from the reward registry, both inside
   the format wrapper
   (plus R-Zero's near-duplicate penalty on proposals when ``controls.diversity_weight`` > 0).

The proposer samples at ``controls.propose_temperature`` when set (else the rollout
temperature); solver and solve-rate samples always at the rollout temperature. With
``controls.explore_fraction`` > 0 the last share of each (task, role) group's proposer and
solver rollouts is drawn by the behaviour sampler (``explorer``: the policy at
``controls.explore_temperature``, or a fixed model) instead; solve-rate samples stay
on-policy. Rollouts record ``explore`` (drawn by the behaviour sampler) and
``off_policy`` (sampled from another distribution than the policy at the rollout
temperature: explored rows, and proposer rows at a different ``propose_temperature``), which
the update corrects with truncated importance weights (``azr.selfplay.update``).

Every random choice draws from a seed derived from (run seed, step, phase).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from azr.selfplay.controls import apply_diversity_penalty, generate_mixed, proposer_sampling
from azr.config import Config
from azr.selfplay.buffer import Buffers, Entry, Task
from azr.selfplay.propose import ProposerPrompt, check_proposals, proposer_prompts
from azr.selfplay.rollouts import Rollout
from azr.selfplay.seeds import derive_seed, rng_for
from azr.selfplay.rewards import Outcome, proposer_final_reward, solver_final_reward
from azr.selfplay.solve import grade_many, solve_rates, solver_prompts
from azr.selfplay.solver_batch import select_solver_tasks
from azr.tasks.parsing import parse_proposal
from azr.tasks.types import TASK_TYPES, Role, TaskType


@dataclass
class Experience:
    """What one step collected: the rollouts to train on, and per-phase facts for metrics."""

    rollouts: list[Rollout]
    new_tasks: dict[TaskType, list[tuple[Task, float]]]  # valid proposals and their solve rates
    timings: dict[str, float] = field(default_factory=dict)
    generated_tokens: int = 0
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. diversity/<task>/...


@contextmanager
def _timed(timings: dict[str, float], key: str):
    """Add the wall time of the block to ``timings[key]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def collect(cfg: Config, engine, env, buffers: Buffers, step: int, explorer=None) -> Experience:
    """Run phases 1-7 for ``step``; grows ``buffers`` with this step's valid tasks.

    ``explorer``: the behaviour sampler of exploration mixing (default: ``engine``)."""
    sp, seed, controls = cfg.selfplay, cfg.run.seed, cfg.controls
    explorer = engine if explorer is None else explorer
    timings = {"propose": 0.0, "execute": 0.0, "solve_rate": 0.0, "solve": 0.0}
    clock = partial(_timed, timings)
    tokens = 0

    # 1. propose
    prompts: list[ProposerPrompt] = []
    for t in TASK_TYPES:
        prompts += proposer_prompts(buffers, t, sp.propose_batch, sp.n_references, sp.n_induction_inputs,
                                    rng_for(seed, step, f"references/{t.value}"), sp.template_set)
    propose_params = proposer_sampling(cfg.rollout, controls, 1, derive_seed(seed, step, "propose"))
    with clock("propose"):
        outs, p_explore = generate_mixed(engine, explorer, [p.prompt for p in prompts],
                                         [p.task_type for p in prompts], propose_params, controls,
                                         derive_seed(seed, step, "propose/explore"))
    completions = [o[0] for o in outs]
    # proposer rows sampled at another temperature than the update's are off-policy too
    propose_off = propose_params.temperature != cfg.rollout.temperature
    tokens += sum(len(c.token_ids) for c in completions)

    # 2. parse + validate (sandbox)
    parses = [parse_proposal(p.task_type, c.text, entry_rule=sp.entry_rule,
                            answer_format=sp.answer_format) for p, c in zip(prompts, completions)]
    with clock("execute"):
        checked = check_proposals(env, prompts, parses, sp)

    # 3. solve rates of valid proposals (n samples at the rollout temperature)
    valid = [i for i, (task, _) in enumerate(checked) if task is not None]
    rates: dict[int, float] = {}
    if valid:
        n = sp.learnability_samples
        s_prompts = [solver_prompts(prompts[i].task_type, [checked[i][0]], sp.template_set)[0] for i in valid]
        with clock("solve_rate"):
            s_outs = engine.generate(s_prompts, cfg.rollout.sampling_params(n, derive_seed(seed, step, "solve_rate")))
        tokens += sum(len(c.token_ids) for cs in s_outs for c in cs)
        items = [(prompts[i].task_type, checked[i][0], c) for i, cs in zip(valid, s_outs) for c in cs]
        with clock("execute"):
            grades = grade_many(env, items, sp.answer_format)
        per_task = [grades[k * n:(k + 1) * n] for k in range(len(valid))]
        rates = dict(zip(valid, solve_rates(per_task)))

    # 4. buffers grow with this step's valid tasks
    new_tasks: dict[TaskType, list[tuple[Task, float]]] = {t: [] for t in TASK_TYPES}
    for i in valid:
        t, task = prompts[i].task_type, checked[i][0]
        buffers[t].add(task, step, rates[i])
        new_tasks[t].append((task, rates[i]))

    rollouts: list[Rollout] = []
    for i, (p, c, q) in enumerate(zip(prompts, completions, parses)):
        task, reason = checked[i]
        outcome = Outcome.PASSABLE if task is not None else (Outcome.WRONG if q.ok else Outcome.FORMAT_ERROR)
        s = rates.get(i)
        rollouts.append(Rollout(p.task_type, Role.PROPOSE, p.prompt, c,
                                proposer_final_reward(outcome, s, cfg.reward), outcome=outcome.value,
                                reason=reason or q.reason, solve_rate=s,
                                task=task.to_dict() if task is not None else None,
                                explore=p_explore[i], off_policy=p_explore[i] or propose_off))
    extra = apply_diversity_penalty(rollouts, cfg.controls)  # R-Zero's penalty; no-op unless enabled

    # 5. solver batch (selfplay.solver_source, azr.selfplay.solver_batch): by default the
    # previous step's proposals backfilled without replacement, as the reference builds it
    solve_items: list[tuple[TaskType, Task]] = []
    for t in TASK_TYPES:
        fresh = [Entry(task, step, rate) for task, rate in new_tasks[t]]
        chosen = select_solver_tasks(sp.solver_source, buffers[t].entries, fresh, step, sp.solve_batch,
                                     rng_for(seed, step, f"backfill/{t.value}"))
        solve_items += [(t, e.task) for e in chosen]

    # 6. solve + verify
    s_prompts = [solver_prompts(t, [task], sp.template_set)[0] for t, task in solve_items]
    with clock("solve"):
        outs, s_explore = generate_mixed(engine, explorer, s_prompts, [t for t, _ in solve_items],
                                         cfg.rollout.sampling_params(1, derive_seed(seed, step, "solve")), controls,
                                         derive_seed(seed, step, "solve/explore"))
    solved = [o[0] for o in outs]
    tokens += sum(len(c.token_ids) for c in solved)
    with clock("execute"):
        grades = grade_many(env, [(t, task, c) for (t, task), c in zip(solve_items, solved)], sp.answer_format)

    # 7. solver rewards
    for (t, task), prompt, c, g, x in zip(solve_items, s_prompts, solved, grades, s_explore):
        rollouts.append(Rollout(t, Role.SOLVE, prompt, c, solver_final_reward(g.outcome, g.correct, cfg.reward),
                                outcome=g.outcome.value, correct=g.correct, reason=g.reason,
                                task=task.to_dict(), explore=x, off_policy=x))
    return Experience(rollouts, new_tasks, timings, tokens, extra)
