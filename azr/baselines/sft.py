"""SFT: supervised fine-tuning on solutions (``azr sft``).

Targets are solver completions for the dataset's problems (same prompts as self-play):

- ``sft.source: reference``: each problem's reference answer rendered with
  ``render_solution`` (the output, an input, or the program), EOS appended;
- ``sft.source: rejection``: the policy's own completions, ``sft.rejection_samples`` per
  problem at the rollout temperature, kept when the sandbox verifies them (rejection-sampling
  fine-tuning); a step whose samples are all wrong is skipped (``sft/kept`` = 0).

The loss is the token-mean negative log-likelihood of the response tokens, computed with the
RL core's chunked log-probs in micro-batches of ``optim.micro_batch_tokens`` tokens (the same
micro-batching and normalisation as the policy update), grad clipping and AdamW/LR schedule
of the ``optim`` section. Checkpoints, ``metrics.jsonl`` and ``dataset.jsonl`` as in RLVR.
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
from azr.rl.batch import PolicyBatch, make_policy_batch
from azr.rl.config import OptimConfig
from azr.rl.logprobs import policy_logprobs
from azr.rl.update import apply_gradients, autocast_context, iter_micro_batches

log = logging.getLogger("azr.sft")


def sft_step(model, optimizer, scheduler, batch: PolicyBatch, optim_cfg: OptimConfig) -> dict[str, float]:
    """One optimiser step of token-mean NLL over ``batch.response_mask`` ``[B, T]``.

    Returns ``loss/nll``, ``loss/target_prob`` (mean probability of the target tokens),
    ``loss/grad_norm``, ``loss/lr``, ``entropy/overall`` and per-row entropies
    (``entropy_rows`` [B], not a metric).
    """
    device = next(model.parameters()).device
    total = float(batch.response_mask.sum())
    if total == 0:
        raise ValueError("an SFT batch needs at least one response token")
    optimizer.zero_grad(set_to_none=True)
    nll_sum, p_sum = 0.0, 0.0
    entropy_rows = torch.zeros(batch.size)
    for idx, mb in iter_micro_batches(batch, optim_cfg.micro_batch_tokens):
        mb = mb.to(device)
        with autocast_context(device, optim_cfg.autocast):
            lp, ent = policy_logprobs(model, mb.input_ids, mb.attention_mask, mb.response_mask,
                                      chunk_tokens=optim_cfg.logprob_chunk_tokens)
        mask = mb.response_mask
        loss = -(lp * mask).sum() / total
        loss.backward()
        nll_sum += float(loss.detach()) * total
        p_sum += float((lp.detach().exp() * mask).sum())
        entropy_rows[idx] = ((ent.detach() * mask).sum(-1) / mask.sum(-1).clamp(min=1)).float().cpu()
    lr = float(optimizer.param_groups[0]["lr"])
    step = apply_gradients(optimizer, scheduler, optim_cfg, trainable=True)  # loss/grad_norm, loss/skipped
    return {"loss/nll": nll_sum / total, "loss/target_prob": p_sum / total, "loss/lr": lr, "loss/tokens": total,
            **step, "entropy/overall": float(entropy_rows.mean()), "entropy_rows": entropy_rows}


def reference_pairs(problems: list[Problem], tokenizer, think: str = "") -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids + EOS) per problem; prompts tokenised as the engine does."""
    eos = tokenizer.eos_token_id
    out = []
    for p in problems:
        prompt = tokenizer(p.prompt())["input_ids"]
        target = tokenizer(p.reference_completion(think), add_special_tokens=False)["input_ids"] + [eos]
        out.append((prompt, target))
    return out


def rejection_pairs(cfg: BaselineConfig, engine, env, problems: list[Problem], step: int):
    """The policy's verified-correct completions for ``problems`` as (prompt ids, token ids),
    and the sampled accuracy per task type (``solve/<task>/accuracy``)."""
    from azr.rollout.types import SamplingParams
    from azr.selfplay.records import derive_seed
    from azr.selfplay.solve import grade_many

    r = cfg.rollout
    params = SamplingParams(temperature=r.temperature, top_p=r.top_p, max_new_tokens=r.max_new_tokens,
                            n=cfg.sft.rejection_samples, stop=r.stop, seed=derive_seed(cfg.run.seed, step, "sft/sample"))
    groups = engine.generate([p.prompt() for p in problems], params)
    items = [(p.task_type, p.task, c) for p, g in zip(problems, groups) for c in g]
    grades = grade_many(env, items)
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


def train_sft(cfg: BaselineConfig, resume: bool = False) -> Path:
    """Run SFT for ``sft.steps`` steps into ``run.run_dir``; return the run directory."""
    from azr.config import to_dict
    from azr.executor import Sandbox
    from azr.selfplay.metrics import MetricsWriter
    from azr.selfplay.progress import Progress

    problems = preload_problems(cfg, resume)  # bad or refused files fail before anything is written
    s = open_session(cfg, resume)
    writer = MetricsWriter(s.run_dir, cfg.run.sinks, cfg.run.wandb_project, to_dict(cfg))
    progress = Progress(cfg.sft.steps, s.start, enabled=cfg.run.progress)
    pad = s.tokenizer.pad_token_id
    try:
        with Sandbox(cfg.executor) as sandbox:
            problems = problems or generate_problems(cfg, sandbox)
            save_dataset(s.run_dir, problems)
            log.info("SFT (%s targets) on %d problems", cfg.sft.source, len(problems))
            engine = env = None
            if cfg.sft.source == "rejection":
                from azr.rollout.hf import HFEngine
                from azr.selfplay.env import CodeEnv

                engine, env = HFEngine(s.model, s.tokenizer, cfg.rollout), CodeEnv(sandbox)
            last_ckpt = 0.0
            for step in range(s.start + 1, cfg.sft.steps + 1):
                t0 = time.perf_counter()
                chosen = [problems[i] for i in batch_indices(len(problems), cfg.sft.batch_size, step, cfg.run.seed)]
                progress.phase(step, "data")
                if engine is not None:
                    pairs, metrics = rejection_pairs(cfg, engine, env, chosen, step)
                    metrics["sft/kept"] = len(pairs)
                    metrics["sft/kept_rate"] = len(pairs) / (len(chosen) * cfg.sft.rejection_samples)
                else:
                    pairs = reference_pairs(chosen, s.tokenizer, cfg.sft.think)
                    metrics = {"sft/kept": len(pairs)}
                t1 = time.perf_counter()
                progress.phase(step, "update")
                if pairs:
                    batch = make_policy_batch([p for p, _ in pairs], [r for _, r in pairs], pad,
                                              advantages=torch.zeros(len(pairs)))
                    out = sft_step(s.model, s.optimizer, s.scheduler, batch, cfg.optim)
                    rows = out.pop("entropy_rows")
                    metrics.update(out)
                    if engine is None:
                        metrics.update(_task_metrics(chosen, pairs, rows))
                else:
                    metrics["loss/skipped"] = 1.0
                metrics["sft/epoch"] = step * cfg.sft.batch_size / len(problems)
                metrics.update({"time/data": t1 - t0, "time/update": time.perf_counter() - t1,
                                "time/step": time.perf_counter() - t0, "time/checkpoint": last_ckpt})
                writer.write(step, metrics)
                last_ckpt = maybe_checkpoint(cfg, s, step, cfg.sft.steps)
                progress.done(step, metrics)
    finally:
        writer.close()
    return s.run_dir
