"""SFT: supervised fine-tuning on solutions (``azr sft``).

Targets are solver completions for the dataset's problems (same prompts as self-play):

- ``sft.source: reference``: each problem's reference answer rendered with
  ``render_solution`` (the output, an input, or the program), EOS appended;
- ``sft.source: rejection``: the policy's own completions, ``sft.rejection_samples`` per
  problem at the rollout temperature, kept when the sandbox verifies them (rejection-sampling
  fine-tuning); a step whose samples are all wrong is skipped (``sft/kept`` = 0).

The loss is the token-mean negative log-likelihood of the response tokens: the ``sft`` loss
of the RL core's registry (``azr.rl.losses``) run by the one update step
(``azr.rl.update.update_step``: micro-batches of ``optim.micro_batch_tokens`` tokens, grad
clipping, AdamW/LR schedule of the ``optim`` section, data parallelism). Set-up, resume,
checkpoints and ``metrics.jsonl`` are the shared run loop's; ``dataset.jsonl`` as in RLVR.
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
from azr.distributed.dist import DistInfo, all_gather_rows, current, shard
from azr.rl.batch import make_policy_batch
from azr.rl.update import update_step
from azr.selfplay.loop import Session, run_loop

log = logging.getLogger("azr.sft")


def sft_update(model, optimizer, scheduler, pairs: list[tuple[list[int], list[int]]], cfg: BaselineConfig,
               pad_token_id: int, info: DistInfo | None = None) -> tuple[dict[str, float], torch.Tensor]:
    """One optimiser step of token-mean NLL on the targets of ``pairs`` (prompt ids, target ids):
    the RL core's ``update_step`` with the registered ``sft`` loss (this rank's block of the
    pairs under data parallelism; the gradient is that of all pairs).

    Returns the ``loss/*`` metrics (``loss/nll``, ``loss/target_prob``: mean probability of
    the target tokens, ``loss/grad_norm``, ``loss/lr``, ...) with ``entropy/overall``, and the
    per-pair entropies ``[len(pairs)]``.
    """
    info = info or current()
    local = shard(pairs, info)
    batch = make_policy_batch([p for p, _ in local], [r for _, r in local], pad_token_id,
                              advantages=torch.zeros(len(local)))
    loss_cfg = replace(cfg.loss, policy_loss="sft", agg="token-mean", entropy_coef=0.0, kl_coef=0.0)
    result = update_step(model, optimizer, scheduler, batch, loss_cfg, cfg.optim, info=info)
    rows = all_gather_rows(result.entropy, info)
    metrics = {k: v for k, v in result.metrics.items() if k not in ("loss/policy", "loss/total", "loss/entropy")}
    metrics["entropy/overall"] = float(rows.mean())
    return metrics, rows


def reference_pairs(problems: list[Problem], tokenizer, think: str = "", template_set: str = "reference"
                    ) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids + EOS) per problem; prompts (of ``template_set``) tokenised
    as the engine does."""
    eos = tokenizer.eos_token_id
    out = []
    for p in problems:
        prompt = tokenizer(p.prompt(template_set))["input_ids"]
        target = tokenizer(p.reference_completion(think), add_special_tokens=False)["input_ids"] + [eos]
        out.append((prompt, target))
    return out


def rejection_pairs(cfg: BaselineConfig, engine, env, problems: list[Problem], step: int):
    """The policy's verified-correct completions for ``problems`` as (prompt ids, token ids),
    and the sampled accuracy per task type (``solve/<task>/accuracy``)."""
    from azr.selfplay.seeds import derive_seed
    from azr.selfplay.solve import grade_many

    params = cfg.rollout.sampling_params(cfg.sft.rejection_samples, derive_seed(cfg.run.seed, step, "sft/sample"))
    groups = engine.generate([p.prompt(cfg.selfplay.template_set) for p in problems], params)
    items = [(p.task_type, p.task, c) for p, g in zip(problems, groups) for c in g]
    grades = grade_many(env, items, cfg.selfplay.answer_format)
    accuracy = {}
    for t in {p.task_type for p in problems}:
        mine = [g.correct for (tt, _, _), g in zip(items, grades) if tt is t]
        accuracy[f"solve/{t.value}/accuracy"] = sum(mine) / len(mine)
    pairs = [(list(c.prompt_token_ids), list(c.token_ids)) for (_, _, c), g in zip(items, grades) if g.correct]
    return pairs, accuracy


def _task_metrics(problems: list[Problem], pairs, entropy_rows: torch.Tensor) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for t in ("deduction", "abduction", "induction"):
        rows = [i for i, p in enumerate(problems) if p.task_type.value == t]
        out[f"entropy/solve/{t}"] = float(entropy_rows[rows].mean()) if rows else None
        lengths = [len(pairs[i][1]) for i in rows]
        out[f"solve/{t}/response_length_mean"] = sum(lengths) / len(lengths) if lengths else None
        out[f"solve/{t}/count"] = len(rows)
    return out


class SFT(BaselineProgram):
    """The SFT program of the shared run loop (``azr.selfplay.loop``)."""

    def __init__(self, cfg: BaselineConfig, problems: list[Problem] | None):
        super().__init__(cfg, problems, cfg.sft.steps)

    def step(self, s: Session, env, step: int, progress) -> dict:
        cfg, problems = self.cfg, self.problems
        t0 = time.perf_counter()
        chosen = [problems[i] for i in batch_indices(len(problems), cfg.sft.batch_size, step, cfg.run.seed)]
        progress.phase(step, "data")
        rejection = cfg.sft.source == "rejection"
        if rejection:
            pairs, metrics = rejection_pairs(cfg, s.engine, env, chosen, step)
            metrics["sft/kept"] = len(pairs)
            metrics["sft/kept_rate"] = len(pairs) / (len(chosen) * cfg.sft.rejection_samples)
        else:
            pairs = reference_pairs(chosen, s.tokenizer, cfg.sft.think, cfg.selfplay.template_set)
            metrics = {"sft/kept": len(pairs)}
        t1 = time.perf_counter()
        progress.phase(step, "update")
        if len(pairs) >= s.dp.world_size:
            out, rows = sft_update(s.module, s.optimizer, s.scheduler, pairs, cfg, s.pad_token_id, s.dp)
            metrics.update(out)
            if not rejection:
                metrics.update(_task_metrics(chosen, pairs, rows))
        else:  # nothing (or too little to split over the ranks) to train on
            metrics["loss/skipped"] = 1.0
        metrics["sft/epoch"] = step * cfg.sft.batch_size / len(problems)
        t2 = time.perf_counter()
        tokens = sum(len(prompt) + len(target) for prompt, target in pairs)  # every rank's rows
        metrics.update({"sft/tokens": tokens, "tokens_per_s": tokens / (t2 - t1) if t2 > t1 else 0.0,
                        "time/data": t1 - t0, "time/update": t2 - t1, "time/step": t2 - t0})
        return metrics


def train_sft(cfg: BaselineConfig, resume: bool = False) -> Path:
    """Run SFT for ``sft.steps`` steps into ``run.run_dir``; return the run directory."""
    from azr.baselines.common import preload_problems

    problems = preload_problems(cfg, resume)  # bad or refused files fail before anything is written
    return run_loop(cfg, resume, SFT(cfg, problems))
