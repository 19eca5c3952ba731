"""Advantage estimators for outcome rewards, in one registry with one signature::

    estimator(scores [B], response_mask [B, T], group_ids [B] long, cfg: AdvantageConfig)
        -> advantages [B, T] float32 (zero outside the response mask)

``scores`` holds one scalar reward per sequence (outcome reward, no discounting); the
advantage of a sequence is broadcast to all its response tokens. ``group_ids`` says which
samples are compared with each other: the (task, role) group for TRR++, the prompt for GRPO,
RLOO and REINFORCE++-baseline; plain REINFORCE++ ignores it. A group of one sample has no
baseline and gets advantage 0 (trr++, grpo, rloo). Standard deviations are unbiased (Bessel).

- ``trr++`` (Task-Relative REINFORCE++, Absolute Zero): within each group, ``(r - mean) /
  (std + eps)``. ``cfg.weighting="token"`` (default) weights each sequence by its number of
  response tokens, i.e. whitens the token-level returns of the group: this is what the
  reference implementation does (branch ``paper``: verl's REINFORCE++ ``masked_whiten`` over
  the response tokens, called once per (task, role) sub-batch), so long responses pull the
  baseline towards their reward. ``"sequence"`` takes mean/std over the group's sequences,
  each counting once. (The reference adds 1e-8 to the variance, azr ``eps`` to the std; both
  give 0 for a group of equal rewards.)
- ``reinforce++``: whiten the token-level returns over the whole batch.
- ``reinforce++-baseline``: subtract the group (prompt) mean, then whiten over the batch's tokens.
- ``grpo``: within each group, ``r - mean``, divided by ``std + eps`` when ``cfg.norm_std``
  (``norm_std=False`` is Dr. GRPO's mean-only baseline).
- ``rloo``: ``r_i - mean of the other samples of the group`` (leave-one-out; no std).
``cfg.norm_std=False`` disables the division by the std in the other estimators.
"""

from __future__ import annotations

from typing import Callable

import torch

from azr.rl.config import AdvantageConfig

AdvantageFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, AdvantageConfig], torch.Tensor]
ADVANTAGE_ESTIMATORS: dict[str, AdvantageFn] = {}


def register_advantage(name: str) -> Callable[[AdvantageFn], AdvantageFn]:
    def deco(fn: AdvantageFn) -> AdvantageFn:
        if name in ADVANTAGE_ESTIMATORS:
            raise ValueError(f"advantage estimator {name!r} registered twice")
        ADVANTAGE_ESTIMATORS[name] = fn
        return fn

    return deco


def compute_advantages(
    scores: torch.Tensor, response_mask: torch.Tensor, group_ids: torch.Tensor, cfg: AdvantageConfig
) -> torch.Tensor:
    """Dispatch to ``ADVANTAGE_ESTIMATORS[cfg.estimator]`` after checking shapes."""
    if cfg.estimator not in ADVANTAGE_ESTIMATORS:
        raise KeyError(f"unknown advantage estimator {cfg.estimator!r}; known: {sorted(ADVANTAGE_ESTIMATORS)}")
    if scores.dim() != 1 or response_mask.dim() != 2 or group_ids.shape != scores.shape:
        raise ValueError("expected scores [B], response_mask [B, T], group_ids [B]")
    if response_mask.shape[0] != scores.shape[0]:
        raise ValueError("scores and response_mask disagree on B")
    return ADVANTAGE_ESTIMATORS[cfg.estimator](scores, response_mask, group_ids, cfg)


def _weighted_group_stats(
    scores: torch.Tensor, weights: torch.Tensor, group_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample ``(group mean, group unbiased std, group total weight)``, each ``[B]``.

    ``weights [B]``: 1 per sequence, or its token count. Variance uses ``total - 1`` (Bessel);
    a group with total weight <= 1 gets std 0.
    """
    _, inv = torch.unique(group_ids, return_inverse=True)
    G = int(inv.max()) + 1 if inv.numel() else 0
    r, w = scores.double(), weights.double()
    tot = torch.zeros(G, dtype=torch.float64).index_add_(0, inv, w)
    mean = torch.zeros(G, dtype=torch.float64).index_add_(0, inv, w * r) / tot.clamp(min=1e-12)
    sq = torch.zeros(G, dtype=torch.float64).index_add_(0, inv, w * (r - mean[inv]) ** 2)
    var = torch.where(tot > 1, sq / (tot - 1).clamp(min=1e-12), torch.zeros_like(sq))
    return mean[inv], var.sqrt()[inv], tot[inv]


def _broadcast(adv_seq: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """``[B]`` -> ``[B, T]`` float32, zero outside the mask."""
    return (adv_seq[:, None] * response_mask.double()).float()


def _normalise(
    scores: torch.Tensor, weights: torch.Tensor, group_ids: torch.Tensor, cfg: AdvantageConfig
) -> torch.Tensor:
    """``(r - group mean) [/ (group std + eps)]`` per sample ``[B]``; groups of one -> 0."""
    mean, std, _ = _weighted_group_stats(scores, weights, group_ids)
    centred = scores.double() - mean
    if cfg.norm_std:
        centred = centred / (std + cfg.eps)
    _, inv = torch.unique(group_ids, return_inverse=True)
    singleton = torch.bincount(inv)[inv] <= 1
    return torch.where(singleton, torch.zeros_like(centred), centred)


@register_advantage("trr++")
def trr_plus_plus(scores, response_mask, group_ids, cfg):
    """Task-relative REINFORCE++: normalise within each (task, role) group (see module doc)."""
    if cfg.weighting == "token":
        weights = response_mask.double().sum(-1)
    else:
        weights = torch.ones_like(scores, dtype=torch.float64)
    return _broadcast(_normalise(scores, weights, group_ids, cfg), response_mask)


@register_advantage("grpo")
def grpo(scores, response_mask, group_ids, cfg):
    """GRPO: ``(r - mean_g) / (std_g + eps)`` over the samples of each prompt group."""
    ones = torch.ones_like(scores, dtype=torch.float64)
    return _broadcast(_normalise(scores, ones, group_ids, cfg), response_mask)


@register_advantage("rloo")
def rloo(scores, response_mask, group_ids, cfg):
    """RLOO: ``r_i - mean_{j != i} r_j`` within each group (never divided by a std)."""
    ones = torch.ones_like(scores, dtype=torch.float64)
    mean, _, n = _weighted_group_stats(scores, ones, group_ids)
    r = scores.double()
    adv = torch.where(n > 1, (r - mean) * n / (n - 1).clamp(min=1), torch.zeros_like(r))
    return _broadcast(adv, response_mask)


def _whiten_tokens(values: torch.Tensor, response_mask: torch.Tensor, cfg: AdvantageConfig) -> torch.Tensor:
    """Whiten per-sequence ``values [B]`` as token-level returns over all masked tokens."""
    w = response_mask.double().sum(-1)
    zeros = torch.zeros_like(values, dtype=torch.long)
    mean, std, _ = _weighted_group_stats(values, w, zeros)
    out = values.double() - mean
    if cfg.norm_std:
        out = out / (std + cfg.eps)
    return _broadcast(out, response_mask)


@register_advantage("reinforce++")
def reinforce_plus_plus(scores, response_mask, group_ids, cfg):
    """REINFORCE++ (outcome reward, gamma 1): whiten token returns over the whole batch."""
    return _whiten_tokens(scores.double(), response_mask, cfg)


@register_advantage("reinforce++-baseline")
def reinforce_plus_plus_baseline(scores, response_mask, group_ids, cfg):
    """REINFORCE++-baseline: subtract the group mean, then whiten over the batch's tokens."""
    ones = torch.ones_like(scores, dtype=torch.float64)
    mean, _, _ = _weighted_group_stats(scores, ones, group_ids)
    return _whiten_tokens(scores.double() - mean, response_mask, cfg)
