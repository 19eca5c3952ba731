"""RLVR: reinforcement learning with verifiable rewards over a fixed dataset (``azr rlvr``).

The same machinery as self-play without the proposer: each step takes
``rlvr.prompts_per_step`` problems, samples ``rlvr.group_size`` solver completions per
problem (a GRPO group), grades them in the sandbox (``azr.selfplay.solve``), rewards them
with the self-play solver reward (1/0 inside the format wrapper, ``reward`` section),
computes advantages with the configured estimator, each problem's group as the comparison
group (``advantage.estimator: grpo`` by default), and runs the RL core's update step
(``loss`` and ``optim`` sections: PPO-clip / clip-higher / Clip-Cov / KL-Cov, entropy bonus).
Metrics use the self-play keys of the three ``solve/<task>`` groups.

Off-policy exploration (``controls.explore_fraction`` > 0): that fraction of each group is
sampled by a behaviour sampler (the policy at ``controls.explore_temperature``, or the fixed
model ``controls.explore_model``). Their PPO ratio is taken against the policy's own
log-probs (recomputed at the rollout temperature) and their advantages are multiplied by the
truncated importance weights pi_old / mu (``azr.selfplay.offpolicy``): for non-negative
constant weights, scaling the advantage equals weighting the per-token PPO loss.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from azr.baselines.common import BaselineProgram, batch_indices
from azr.baselines.config import BaselineConfig
from azr.baselines.dataset import Problem
from azr.rl.rundir import write_samples
from azr.selfplay.loop import Session, run_loop
from azr.selfplay.metrics import group_metrics, samples_record
from azr.selfplay.offpolicy import explore_count
from azr.selfplay.rewards import solver_final_reward
from azr.selfplay.rollouts import Rollout
from azr.selfplay.seeds import derive_seed
from azr.selfplay.solve import grade_many
from azr.selfplay.update import policy_update
from azr.tasks.types import Role

log = logging.getLogger("azr.rlvr")


def collect(cfg: BaselineConfig, engine, explorer, env, problems: list[Problem], step: int):
    """Sample and grade one step's groups; returns (rollouts, group ids [B], timings, tokens).

    Rollouts are ordered problem-major; the last ``k`` of each group come from ``explorer``.
    """
    n = cfg.rlvr.group_size
    k = explore_count(n, cfg.controls.explore_fraction)
    batch = [problems[i] for i in batch_indices(len(problems), cfg.rlvr.prompts_per_step, step, cfg.run.seed)]
    prompts = [p.prompt(cfg.selfplay.template_set) for p in batch]
    t0 = time.perf_counter()
    params = cfg.rollout.sampling_params(n - k, derive_seed(cfg.run.seed, step, "rlvr/solve"))
    groups = engine.generate(prompts, params) if n - k else [[] for _ in prompts]
    if k:
        explore = replace(cfg.rollout.sampling_params(k, derive_seed(cfg.run.seed, step, "rlvr/explore")),
                          temperature=cfg.controls.explore_temperature)
        extra = explorer.generate(prompts, explore)
        groups = [g + e for g, e in zip(groups, extra)]
    t1 = time.perf_counter()
    items = [(p.task_type, p.task, c) for p, g in zip(batch, groups) for c in g]
    grades = grade_many(env, items, cfg.selfplay.answer_format)
    t2 = time.perf_counter()
    rollouts, group_ids = [], []
    for j, (p, prompt, g) in enumerate(zip(batch, prompts, groups)):
        for m, c in enumerate(g):
            gr = grades[len(rollouts)]
            reward = solver_final_reward(gr.outcome, gr.correct, cfg.reward)
            rollouts.append(Rollout(p.task_type, Role.SOLVE, prompt, c, reward, outcome=gr.outcome.value,
                                    correct=gr.correct, reason=gr.reason, task=p.task.to_dict(),
                                    explore=m >= n - k, off_policy=m >= n - k))
            group_ids.append(j)
    tokens = sum(len(r.completion.token_ids) for r in rollouts)
    return rollouts, torch.tensor(group_ids, dtype=torch.long), {"solve": t1 - t0, "execute": t2 - t1}, tokens


def _solve_only(metrics: dict) -> dict:
    """Drop the proposer keys (always empty in RLVR) of the self-play metric helpers."""
    return {k: v for k, v in metrics.items() if "propose/" not in k}


class RLVR(BaselineProgram):
    """The RLVR program of the shared run loop (``azr.selfplay.loop``)."""

    def __init__(self, cfg: BaselineConfig, problems: list[Problem] | None):
        super().__init__(cfg, problems, cfg.rlvr.steps)

    def step(self, s: Session, env, step: int, progress) -> dict:
        cfg, problems = self.cfg, self.problems
        t0 = time.perf_counter()
        progress.phase(step, "rollout")
        rollouts, group_ids, timings, tokens = collect(cfg, s.engine, s.explorer, env, problems, step)
        progress.phase(step, "update")
        t1 = time.perf_counter()
        metrics = _solve_only(policy_update(s.module, s.optimizer, s.scheduler, rollouts, cfg, s.pad_token_id,
                                            groups=group_ids, info=s.dp))
        timings["update"] = time.perf_counter() - t1
        metrics.update(_solve_only(group_metrics(rollouts)))
        metrics["tokens_per_s"] = tokens / timings["solve"] if timings["solve"] > 0 else 0.0
        metrics["tokens/generated"] = tokens
        metrics["rlvr/epoch"] = (step * cfg.rlvr.prompts_per_step) / len(problems)
        if cfg.selfplay.samples_per_group and s.is_main:
            write_samples(s.run_dir, step, samples_record(rollouts, cfg.selfplay.samples_per_group))
        timings["step"] = time.perf_counter() - t0
        metrics.update({f"time/{k}": v for k, v in timings.items()})
        return metrics


def train_rlvr(cfg: BaselineConfig, resume: bool = False) -> Path:
    """Run RLVR for ``rlvr.steps`` steps into ``run.run_dir``; return the run directory."""
    from azr.baselines.common import preload_problems

    problems = preload_problems(cfg, resume)  # bad or refused files fail before anything is written
    return run_loop(cfg, resume, RLVR(cfg, problems))
