"""Data-parallel self-play: split generation and execution across ranks, update on shards.

The data-parallel trainer keeps every rank's *control state* identical (buffers, prompts,
rewards, metrics), and splits only the expensive work:

- ``ShardedEngine(engine)``: each rank samples its contiguous block of the prompts (rank r
  with seed ``seed + r``), and every rank receives all completions in prompt order. So the
  proposer prompts, validation, buffer growth and solver batches that follow are the same
  computation on every rank.
- ``ShardedSandbox(sandbox)``: each rank runs its block of the jobs; all ranks receive all
  results. Besides dividing the work this keeps the ranks consistent: a program whose
  outcome depends on timing (a timeout under load) gets one verdict, shared by every rank.
- ``distributed_policy_update``: each rank trains on its block of the step's rollouts;
  advantages are computed over the global batch (TRR++ groups span all ranks), the update
  is ``distributed_update_step`` (gradient of the global batch), and the returned metrics
  are those of the global batch, identical on every rank (rank 0 writes them).

On a single process all three reduce to the plain objects and ``policy_update``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from azr.distributed.dist import DistInfo, all_gather_objects, all_gather_rows, current, global_advantages, shard
from azr.distributed.update import distributed_update_step
from azr.rl.batch import make_policy_batch


class ShardedEngine:
    """A ``RolloutEngine`` that splits ``generate`` across the data-parallel ranks."""

    def __init__(self, engine, info: DistInfo | None = None):
        self.engine = engine
        self.info = info or current()

    def generate(self, prompts: Sequence[str], params):
        if isinstance(prompts, str):
            raise TypeError("generate() takes a sequence of prompts, not a single string")
        mine = shard(list(prompts), self.info)
        if params.seed is not None and self.info.rank:
            params = replace(params, seed=params.seed + self.info.rank)
        out = self.engine.generate(mine, params) if mine else []
        return all_gather_objects(out, self.info)

    def sync_weights(self, source) -> None:
        self.engine.sync_weights(source)

    def __getattr__(self, name):  # tokenizer, encode_prompts, config ... of the inner engine
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)


class ShardedSandbox:
    """A sandbox whose ``run`` splits the jobs across ranks and gathers every result."""

    def __init__(self, sandbox, info: DistInfo | None = None):
        self.sandbox = sandbox
        self.info = info or current()

    def run(self, jobs):
        jobs = list(jobs)
        mine = shard(jobs, self.info)
        out = self.sandbox.run(mine) if mine else []
        return all_gather_objects(out, self.info)

    def run_one(self, job):
        return self.run([job])[0]

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> "ShardedSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getattr__(self, name):  # config, protections ...
        if name == "sandbox":
            raise AttributeError(name)
        return getattr(self.sandbox, name)


def distributed_policy_update(module, optimizer, scheduler, rollouts: Sequence, cfg, pad_token_id: int,
                              info: DistInfo | None = None) -> dict:
    """``azr.selfplay.update.policy_update`` over the global ``rollouts`` (the same list on every
    rank), training each rank on its block; returns the global metrics on every rank.

    Args:
        module: ``wrap_ddp(model)`` / ``wrap_fsdp(model)`` (or the bare model on one process).
        rollouts: the step's rollouts, identical on every rank (``ShardedEngine`` ensures it).
    """
    from azr.selfplay.stats import advantage_metrics, entropy_metrics
    from azr.tasks.types import Role

    info = info or current()
    if len(rollouts) < info.world_size:
        raise ValueError(f"{len(rollouts)} rollouts cannot be split over {info.world_size} ranks")
    local = shard(list(rollouts), info)
    weights = [0.0 if (r.role is Role.PROPOSE and not cfg.selfplay.train_propose) else 1.0 for r in local]
    batch = make_policy_batch([list(r.completion.prompt_token_ids) for r in local],
                              [list(r.completion.token_ids) for r in local], pad_token_id,
                              advantages=torch.zeros(len(local)),
                              old_logprobs=[list(r.completion.logprobs) for r in local], sample_mask=weights)
    scores = torch.tensor([r.reward for r in local], dtype=torch.float32)
    groups = torch.tensor([r.group_id for r in local], dtype=torch.long)
    adv = global_advantages(scores, batch.response_mask, groups, cfg.advantage, info=info)  # [B_r, T_r]
    batch = replace(batch, advantages=adv * batch.response_mask)
    seq_adv = (adv * batch.response_mask).sum(-1) / batch.response_mask.sum(-1).clamp(min=1)  # [B_r]
    result = distributed_update_step(module, optimizer, scheduler, batch, cfg.loss, cfg.optim,
                                     temperature=cfg.rollout.temperature or 1.0, info=info)
    metrics = {k: v for k, v in result.metrics.items() if k != "entropy/overall_batch"}
    entropy = all_gather_rows(result.entropy, info).tolist()
    seq_adv_all = all_gather_rows(seq_adv.float(), info).tolist()
    lengths = [len(r.completion.token_ids) for r in rollouts]
    metrics.update(entropy_metrics(rollouts, entropy, lengths))
    metrics.update(advantage_metrics(rollouts, seq_adv_all))
    return metrics
