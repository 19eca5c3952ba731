"""The policy update of a self-play step: one update over the 6 (task, role) groups.

Rollouts -> ``PolicyBatch`` (old log-probs are the sampling log-probs recorded by the engine,
i.e. the policy at the rollout temperature) -> advantages by the configured estimator with
the (task, role) group as the comparison group (TRR++ normalises within each group) ->
``azr.rl.update.update_step``. With ``selfplay.train_propose = false`` proposer samples get
sample weight 0: forwarded (their entropy is logged) but no gradient. Rollouts with
``info["off_policy"]`` (exploration mixing, or a separate proposer temperature) are corrected
after the advantages: their old log-probs are recomputed under the policy at the rollout
temperature and their advantages scaled by truncated importance weights
(``azr.selfplay.offpolicy.reweight_off_policy``; ``explore/*`` metrics). The trainer never
branches on the estimator or loss name; the registries do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from azr.selfplay.offpolicy import reweight_off_policy
from azr.config import Config
from azr.rl.advantages import compute_advantages
from azr.rl.batch import make_policy_batch
from azr.rl.update import update_step
from azr.selfplay.records import Rollout
from azr.selfplay.stats import advantage_metrics, entropy_metrics
from azr.tasks.types import Role


def build_batch(rollouts: Sequence[Rollout], cfg: Config, pad_token_id: int, model=None,
                groups: torch.Tensor | None = None):
    """``(PolicyBatch, per-sequence advantages [B], off-policy metrics)`` of the rollouts.

    ``model`` (the policy) is needed only when some rollout is off-policy. ``groups`` [B]:
    the comparison group of each rollout (default: its (task, role) group; RLVR passes one
    group per prompt)."""
    prompts = [list(r.completion.prompt_token_ids) for r in rollouts]
    responses = [list(r.completion.token_ids) for r in rollouts]
    weights = [0.0 if (r.role is Role.PROPOSE and not cfg.selfplay.train_propose) else 1.0 for r in rollouts]
    batch = make_policy_batch(prompts, responses, pad_token_id, advantages=torch.zeros(len(rollouts)),
                              old_logprobs=[list(r.completion.logprobs) for r in rollouts], sample_mask=weights)
    scores = torch.tensor([r.reward for r in rollouts], dtype=torch.float32)
    if groups is None:
        groups = torch.tensor([r.group_id for r in rollouts], dtype=torch.long)
    adv = compute_advantages(scores, batch.response_mask, groups, cfg.advantage)  # [B, T]
    batch = replace(batch, advantages=adv * batch.response_mask)
    off = torch.tensor([bool(r.info.get("off_policy")) for r in rollouts], dtype=torch.bool)
    metrics: dict[str, float] = {}
    if bool(off.any()):
        if model is None:
            raise ValueError("off-policy rollouts need the policy model to recompute their log-probs")
        c = cfg.controls
        batch, metrics = reweight_off_policy(model, batch, off, temperature=cfg.rollout.temperature or 1.0,
                                             cap=c.is_cap, level=c.is_level, optim_cfg=cfg.optim)
    ntok = batch.response_mask.sum(-1).clamp(min=1)
    seq_adv = (batch.advantages * batch.response_mask).sum(-1) / ntok  # [B]
    return batch, seq_adv, metrics


def policy_update(model, optimizer, scheduler, rollouts: Sequence[Rollout], cfg: Config, pad_token_id: int) -> dict:
    """Run the update; return loss, entropy (per group and overall) and advantage metrics."""
    batch, seq_adv, off_metrics = build_batch(rollouts, cfg, pad_token_id, model)
    result = update_step(model, optimizer, scheduler, batch, cfg.loss, cfg.optim,
                         temperature=cfg.rollout.temperature or 1.0)
    metrics = {k: v for k, v in result.metrics.items() if k != "entropy/overall_batch"}
    lengths = [len(r.completion.token_ids) for r in rollouts]
    metrics.update(entropy_metrics(rollouts, result.entropy.tolist(), lengths))
    metrics.update(advantage_metrics(rollouts, seq_adv.tolist()))
    metrics.update(off_metrics)
    return metrics
