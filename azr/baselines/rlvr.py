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
from pathlib import Path

import torch

from azr.baselines.common import (
    batch_indices,
    generate_problems,
    maybe_checkpoint,
    open_session,
    preload_problems,
    save_dataset,
)
from azr.baselines.config import BaselineConfig
from azr.baselines.dataset import Problem
from azr.selfplay.offpolicy import behaviour_engine, explore_count
from azr.rl.update import update_step
from azr.rollout.types import SamplingParams
from azr.selfplay.records import Rollout, derive_seed
from azr.selfplay.rewards import solver_final_reward
from azr.selfplay.solve import grade_many
from azr.selfplay.stats import advantage_metrics, entropy_metrics, group_metrics, samples_record
from azr.selfplay.update import build_batch
from azr.tasks.types import Role

log = logging.getLogger("azr.rlvr")


def _sampling(cfg: BaselineConfig, n: int, seed: int, temperature: float | None = None) -> SamplingParams:
    r = cfg.rollout
    return SamplingParams(temperature=r.temperature if temperature is None else temperature, top_p=r.top_p,
                          max_new_tokens=r.max_new_tokens, n=n, stop=r.stop, seed=seed)


def collect(cfg: BaselineConfig, engine, explorer, env, problems: list[Problem], step: int):
    """Sample and grade one step's groups; returns (rollouts, group ids [B], timings, tokens).

    Rollouts are ordered problem-major; the last ``k`` of each group come from ``explorer``.
    """
    n = cfg.rlvr.group_size
    k = explore_count(n, cfg.controls.explore_fraction)
    batch = [problems[i] for i in batch_indices(len(problems), cfg.rlvr.prompts_per_step, step, cfg.run.seed)]
    prompts = [p.prompt() for p in batch]
    t0 = time.perf_counter()
    groups = engine.generate(prompts, _sampling(cfg, n - k, derive_seed(cfg.run.seed, step, "rlvr/solve"))) \
        if n - k else [[] for _ in prompts]
    if k:
        extra = explorer.generate(prompts, _sampling(cfg, k, derive_seed(cfg.run.seed, step, "rlvr/explore"),
                                                     cfg.controls.explore_temperature))
        groups = [g + e for g, e in zip(groups, extra)]
    t1 = time.perf_counter()
    items = [(p.task_type, p.task, c) for p, g in zip(batch, groups) for c in g]
    grades = grade_many(env, items)
    t2 = time.perf_counter()
    rollouts, group_ids = [], []
    for j, (p, prompt, g) in enumerate(zip(batch, prompts, groups)):
        for m, c in enumerate(g):
            gr = grades[len(rollouts)]
            reward = solver_final_reward(gr.outcome, gr.correct, cfg.reward)
            rollouts.append(Rollout(p.task_type, Role.SOLVE, prompt, c, reward,
                                    {"outcome": gr.outcome.value, "correct": gr.correct, "reason": gr.reason,
                                     "explore": m >= n - k, "off_policy": m >= n - k,
                                     "task": p.task.to_dict()}))
            group_ids.append(j)
    tokens = sum(len(r.completion.token_ids) for r in rollouts)
    return rollouts, torch.tensor(group_ids, dtype=torch.long), {"solve": t1 - t0, "execute": t2 - t1}, tokens


def _solve_only(metrics: dict) -> dict:
    """Drop the proposer keys (always empty in RLVR) of the self-play metric helpers."""
    return {k: v for k, v in metrics.items() if "propose/" not in k}


def train_rlvr(cfg: BaselineConfig, resume: bool = False) -> Path:
    """Run RLVR for ``rlvr.steps`` steps into ``run.run_dir``; return the run directory."""
    from azr.config import to_dict
    from azr.executor import Sandbox
    from azr.rollout.hf import HFEngine
    from azr.selfplay.env import CodeEnv
    from azr.selfplay.metrics import MetricsWriter
    from azr.selfplay.progress import Progress
    from azr.selfplay.trainer import write_samples

    problems = preload_problems(cfg, resume)  # bad or refused files fail before anything is written
    s = open_session(cfg, resume)
    engine = HFEngine(s.model, s.tokenizer, cfg.rollout)
    explorer = behaviour_engine(cfg.model, cfg.rollout, cfg.controls, engine, s.tokenizer)
    writer = MetricsWriter(s.run_dir, cfg.run.sinks, cfg.run.wandb_project, to_dict(cfg))
    progress = Progress(cfg.rlvr.steps, s.start, enabled=cfg.run.progress)
    try:
        with Sandbox(cfg.executor) as sandbox:
            env = CodeEnv(sandbox)
            problems = problems or generate_problems(cfg, sandbox)
            save_dataset(s.run_dir, problems)
            log.info("RLVR on %d problems (%s)", len(problems), ", ".join(cfg.rlvr.dataset) or "generator-made")
            last_ckpt = 0.0
            for step in range(s.start + 1, cfg.rlvr.steps + 1):
                t0 = time.perf_counter()
                progress.phase(step, "rollout")
                rollouts, group_ids, timings, tokens = collect(cfg, engine, explorer, env, problems, step)
                progress.phase(step, "update")
                t1 = time.perf_counter()
                batch, seq_adv, metrics = build_batch(rollouts, cfg, s.tokenizer.pad_token_id, s.model,
                                                      groups=group_ids)
                result = update_step(s.model, s.optimizer, s.scheduler, batch, cfg.loss, cfg.optim,
                                     temperature=cfg.rollout.temperature or 1.0)
                timings["update"] = time.perf_counter() - t1
                metrics.update({k: v for k, v in result.metrics.items() if k != "entropy/overall_batch"})
                lengths = [len(r.completion.token_ids) for r in rollouts]
                metrics.update(_solve_only(entropy_metrics(rollouts, result.entropy.tolist(), lengths)))
                metrics.update(_solve_only(advantage_metrics(rollouts, seq_adv.tolist())))
                metrics.update(_solve_only(group_metrics(rollouts)))
                metrics["tokens_per_s"] = tokens / timings["solve"] if timings["solve"] > 0 else 0.0
                metrics["tokens/generated"] = tokens
                metrics["rlvr/epoch"] = (step * cfg.rlvr.prompts_per_step) / len(problems)
                if cfg.selfplay.samples_per_group:
                    write_samples(s.run_dir, step, samples_record(rollouts, cfg.selfplay.samples_per_group))
                timings["step"] = time.perf_counter() - t0
                metrics.update({f"time/{k}": v for k, v in timings.items()})
                metrics["time/checkpoint"] = last_ckpt
                writer.write(step, metrics)
                last_ckpt = maybe_checkpoint(cfg, s, step, cfg.rlvr.steps)
                progress.done(step, metrics)
    finally:
        writer.close()
    return s.run_dir
