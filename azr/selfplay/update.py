"""The policy update of a step: rollouts -> this rank's batch -> the RL core's update.

One path for one process and for data parallelism (the collectives of
``azr.distributed.dist`` are no-ops without a process group):

- ``build_batch``: this rank's block of the rollouts (all of them on one process) ->
  ``PolicyBatch`` (old log-probs are the sampling log-probs recorded by the engine, i.e. the
  policy at the rollout temperature) -> advantages by the configured estimator over the
  *global* batch (``azr.rl.parallel.global_advantages``; the (task, role) group is the
  comparison group, RLVR passes one group per prompt). With ``selfplay.train_propose =
  false`` proposer samples get sample weight 0: forwarded (their entropy is logged) but no
  gradient. Off-policy rollouts (``Rollout.off_policy``: exploration mixing, or a separate
  proposer temperature) are then corrected: their old log-probs are recomputed under the
  policy at the rollout temperature and their advantages scaled by truncated importance
  weights (``azr.selfplay.offpolicy``; ``explore/*`` metrics, global).
- ``policy_update``: rows in the reference's order (``reference_order``) -> ``build_batch`` ->
  ``azr.rl.update.ppo_update`` (``optim.ppo_mini_batch`` rows per optimizer step,
  ``optim.ppo_epochs`` passes, old log-probs fixed before the first step) -> the step's metrics
  of the global batch (loss, entropy per group, advantages), identical on every rank.

The trainer never branches on the estimator, the loss name or the distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from azr.config import Config
from azr.distributed.dist import DistInfo, all_gather_rows, current, shard, shard_range
from azr.rl.batch import make_policy_batch
from azr.rl.parallel import global_advantages
from azr.rl.update import ppo_update
from azr.selfplay.metrics import advantage_metrics, entropy_metrics
from azr.selfplay.offpolicy import reweight_off_policy
from azr.selfplay.rollouts import Rollout
from azr.tasks.types import Role, TaskType

#: The reference's concatenation order of the six sub-batches (its code_i, code_o, code_f
#: problem types, each generation then prediction), which its mini-batches cut in order.
REFERENCE_TASK_ORDER = (TaskType.ABDUCTION, TaskType.DEDUCTION, TaskType.INDUCTION)
REFERENCE_ROLE_ORDER = (Role.PROPOSE, Role.SOLVE)


def reference_order(rollouts: Sequence[Rollout]) -> list[int]:
    """Indices of ``rollouts`` sorted into the reference's order: abduction, deduction,
    induction; within each, proposer rows then solver rows; otherwise as given (stable)."""
    def key(i: int) -> tuple[int, int, int]:
        r = rollouts[i]
        return REFERENCE_TASK_ORDER.index(TaskType(r.task_type)), REFERENCE_ROLE_ORDER.index(Role(r.role)), i
    return sorted(range(len(rollouts)), key=key)


def build_batch(rollouts: Sequence[Rollout], cfg: Config, pad_token_id: int, model=None,
                groups: torch.Tensor | None = None, info: DistInfo | None = None):
    """``(PolicyBatch, per-sequence advantages [B_r], off-policy metrics)`` of this rank's rows.

    ``rollouts``: the step's rollouts, the same list on every rank. ``model`` (the policy) is
    needed only when some rollout is off-policy. ``groups`` [B]: the comparison group of each
    rollout (default: its (task, role) group)."""
    info = info or current()
    if len(rollouts) < info.world_size:
        raise ValueError(f"{len(rollouts)} rollouts cannot be split over {info.world_size} ranks")
    if groups is None:
        groups = torch.tensor([r.group_id for r in rollouts], dtype=torch.long)
    off_all = torch.tensor([r.off_policy for r in rollouts], dtype=torch.bool)
    rows = shard_range(len(rollouts), info.rank, info.world_size)
    local = shard(list(rollouts), info)
    weights = [0.0 if (r.role is Role.PROPOSE and not cfg.selfplay.train_propose) else 1.0 for r in local]
    batch = make_policy_batch([list(r.completion.prompt_token_ids) for r in local],
                              [list(r.completion.token_ids) for r in local], pad_token_id,
                              advantages=torch.zeros(len(local)),
                              old_logprobs=[list(r.completion.logprobs) for r in local], sample_mask=weights)
    scores = torch.tensor([r.reward for r in local], dtype=torch.float32)
    adv = global_advantages(scores, batch.response_mask, groups[rows.start:rows.stop], cfg.advantage,
                            info=info)  # [B_r, T_r]
    batch = replace(batch, advantages=adv * batch.response_mask)
    metrics: dict[str, float] = {}
    if bool(off_all.any()):  # the same decision on every rank
        if model is None:
            raise ValueError("off-policy rollouts need the policy model to recompute their log-probs")
        c = cfg.controls
        batch, metrics = reweight_off_policy(model, batch, off_all[rows.start:rows.stop],
                                             temperature=cfg.rollout.temperature or 1.0, cap=c.is_cap,
                                             level=c.is_level, optim_cfg=cfg.optim, info=info)
    ntok = batch.response_mask.sum(-1).clamp(min=1)
    seq_adv = (batch.advantages * batch.response_mask).sum(-1) / ntok  # [B_r]
    return batch, seq_adv, metrics


def policy_update(model, optimizer, scheduler, rollouts: Sequence[Rollout], cfg: Config, pad_token_id: int,
                  groups: torch.Tensor | None = None, info: DistInfo | None = None) -> dict:
    """Run the update; return loss, entropy (per group and overall), advantage and
    off-policy metrics of the global batch.

    ``model``: the policy, or its ``azr.rl.parallel.wrap_ddp`` / ``wrap_fsdp`` wrapper."""
    info = info or current()
    order = reference_order(rollouts)
    rollouts = [rollouts[i] for i in order]
    if groups is not None:
        groups = groups[torch.as_tensor(order, dtype=torch.long)]
    batch, seq_adv, off_metrics = build_batch(rollouts, cfg, pad_token_id, model, groups, info)
    result = ppo_update(model, optimizer, scheduler, batch, cfg.loss, cfg.optim,
                        temperature=cfg.rollout.temperature or 1.0, info=info,
                        rows=shard_range(len(rollouts), info.rank, info.world_size), n_rows=len(rollouts))
    metrics = {k: v for k, v in result.metrics.items() if k != "entropy/overall_batch"}
    entropy = all_gather_rows(result.entropy, info).tolist()
    seq_adv_all = all_gather_rows(seq_adv.float(), info).tolist()
    lengths = [len(r.completion.token_ids) for r in rollouts]
    metrics.update(entropy_metrics(rollouts, entropy, lengths))
    metrics.update(advantage_metrics(rollouts, seq_adv_all))
    metrics.update(off_metrics)
    return metrics
