"""Policy losses (registry), the KL-to-reference penalty and loss aggregation.

Every policy loss has one signature::

    loss_fn(logprobs [B, T], old_logprobs [B, T], advantages [B, T], mask [B, T],
            cfg: LossConfig, norm: AggNorm | None) -> (loss: scalar tensor, metrics: dict[str, tensor])

``mask`` is the loss mask: response tokens times the per-sample weight (0 = no gradient).
Losses are aggregated with ``aggregate(values, mask, cfg.agg, norm)``. ``norm`` carries the
normalisers of the *whole* batch, so the losses (and metrics) of its micro-batches sum to the
loss of the whole batch: gradient accumulation is exact whatever the micro-batch split. With
``norm=None`` the normalisers come from ``mask`` itself (one micro-batch = the batch).
Metric values are detached scalars on that same scale (summable over micro-batches); rates
(clip fractions) are token means.

Registered losses:
- ``ppo_clip``: ``max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high))`` with ``r = exp(logp -
  old_logp)``; for ``A < 0`` additionally capped at ``-A c`` (dual-clip, ``c = cfg.dual_clip``).
- ``clip_cov`` (Cui et al. 2025, "The Entropy Mechanism of RL for Reasoning LMs"): the
  ``ppo_clip`` loss, but the gradient of a random ``clip_cov_ratio`` fraction of the tokens
  whose centred covariance ``(A - mean A)(logp - mean logp)`` lies in ``[clip_cov_lb,
  clip_cov_ub]`` is dropped (uses the global torch RNG). Covariances are computed over the
  micro-batch's masked tokens.
- ``kl_cov`` (same paper): ``-A r`` (no clipping) plus ``kl_cov_coef * |logp - old_logp|`` on the
  ``kl_cov_ratio`` fraction of tokens with the largest covariance.
- ``sft``: the negative log-likelihood of the masked tokens (supervised fine-tuning).
Metrics: ``clipfrac_low`` (A < 0, r < 1 - clip_low), ``clipfrac_high`` (A > 0, r > 1 + clip_high),
``clipfrac_dual`` (A < 0, r > c), ``approx_kl`` (k3 estimate of KL(old || new), token mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from azr.rl.config import LossConfig

Metrics = dict[str, torch.Tensor]
PolicyLossFn = Callable[..., tuple[torch.Tensor, Metrics]]
POLICY_LOSSES: dict[str, PolicyLossFn] = {}
_MAX_LOG_RATIO = 20.0  # clamp |logp - old_logp| before exp() to avoid overflow


@dataclass(frozen=True)
class AggNorm:
    """Normalisers of the whole batch (see the module doc)."""

    tokens: float  # sum of the loss mask over the batch (weighted loss tokens)
    seqs: float  # sum of the sample weights of samples with at least one loss token
    length: float  # seq-mean-token-sum-norm divisor (a constant response length)

    @staticmethod
    def from_mask(mask: torch.Tensor, length: int | None = None) -> "AggNorm":
        """Normalisers of ``mask [B, T]`` (``length`` default: T)."""
        has = mask.sum(-1) > 0
        seqs = mask.amax(-1)[has].sum()  # each sample's weight counted once
        return AggNorm(float(mask.sum()), float(seqs), float(length or mask.shape[-1]))


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str, norm: AggNorm | None = None) -> torch.Tensor:
    """Reduce per-token ``values [B, T]`` under ``mask [B, T]`` to a scalar.

    - ``token-mean``: sum over tokens / number of tokens in the batch;
    - ``seq-mean-token-mean``: mean over sequences of each sequence's token mean;
    - ``seq-mean-token-sum-norm``: sum over tokens / (sequences x ``norm.length``) (Dr. GRPO).
    """
    norm = norm or AggNorm.from_mask(mask)
    mask = mask.to(values.dtype)
    if mode == "token-mean":
        return (values * mask).sum() / max(norm.tokens, 1e-8)
    if mode == "seq-mean-token-mean":
        ntok = (mask > 0).to(values.dtype).sum(-1).clamp(min=1)
        return ((values * mask).sum(-1) / ntok).sum() / max(norm.seqs, 1e-8)
    if mode == "seq-mean-token-sum-norm":
        return (values * mask).sum() / max(norm.seqs * norm.length, 1e-8)
    raise ValueError(f"unknown aggregation mode {mode!r}")


def _token_mean(values: torch.Tensor, mask: torch.Tensor, norm: AggNorm | None) -> torch.Tensor:
    return aggregate(values.detach().float(), mask, "token-mean", norm)


def register_policy_loss(name: str) -> Callable[[PolicyLossFn], PolicyLossFn]:
    def deco(fn: PolicyLossFn) -> PolicyLossFn:
        if name in POLICY_LOSSES:
            raise ValueError(f"policy loss {name!r} registered twice")
        POLICY_LOSSES[name] = fn
        return fn

    return deco


def _ppo_terms(logprobs, old_logprobs, advantages, mask, cfg: LossConfig, norm):
    """Per-token PPO-clip (+ dual-clip) losses ``[B, T]``, the ratio and the metrics."""
    log_ratio = (logprobs - old_logprobs).clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)
    ratio = log_ratio.exp()
    a = advantages
    unclipped = -a * ratio
    clipped = -a * ratio.clamp(1.0 - cfg.clip_low, 1.0 + cfg.clip_high)
    losses = torch.maximum(unclipped, clipped)
    neg = a < 0
    metrics = {
        "clipfrac_low": _token_mean((neg & (ratio < 1.0 - cfg.clip_low)).float(), mask, norm),
        "clipfrac_high": _token_mean(((a > 0) & (ratio > 1.0 + cfg.clip_high)).float(), mask, norm),
        "approx_kl": _token_mean((ratio - 1.0) - log_ratio, mask, norm),
    }
    if cfg.dual_clip is not None:
        losses = torch.where(neg, torch.minimum(losses, -a * cfg.dual_clip), losses)
        metrics["clipfrac_dual"] = _token_mean((neg & (ratio > cfg.dual_clip)).float(), mask, norm)
    return losses, ratio, log_ratio, metrics


def _centred_cov(advantages, logprobs, mask) -> torch.Tensor:
    """``(A - mean A)(logp - mean logp)`` over masked tokens ``[B, T]`` (detached)."""
    m = mask > 0
    n = m.sum().clamp(min=1)
    a, lp = advantages.detach(), logprobs.detach()
    a_mean, lp_mean = (a * m).sum() / n, (lp * m).sum() / n
    return (a - a_mean) * (lp - lp_mean)


@register_policy_loss("ppo_clip")
def ppo_clip(logprobs, old_logprobs, advantages, mask, cfg: LossConfig, norm=None):
    """PPO-clip with separate low/high clip and dual-clip (see module doc)."""
    losses, _, _, metrics = _ppo_terms(logprobs, old_logprobs, advantages, mask, cfg, norm)
    return aggregate(losses, mask, cfg.agg, norm), metrics


@register_policy_loss("clip_cov")
def clip_cov(logprobs, old_logprobs, advantages, mask, cfg: LossConfig, norm=None):
    """Clip-Cov: drop the gradient of a few high-covariance tokens (see module doc)."""
    losses, _, _, metrics = _ppo_terms(logprobs, old_logprobs, advantages, mask, cfg, norm)
    m = mask > 0
    cov = _centred_cov(advantages, logprobs, mask)
    n_clip = max(int(cfg.clip_cov_ratio * int(m.sum())), 1) if m.any() else 0
    window = (m & (cov >= cfg.clip_cov_lb) & (cov <= cfg.clip_cov_ub)).flatten().nonzero().squeeze(-1)
    keep = torch.ones_like(losses).flatten()
    if n_clip and window.numel():
        pick = window[torch.randperm(window.numel(), device="cpu")[:n_clip].to(window.device)]
        keep[pick] = 0.0
    keep = keep.view_as(losses)
    metrics["clip_cov_frac"] = _token_mean(1.0 - keep, mask, norm)
    return aggregate(losses * keep, mask, cfg.agg, norm), metrics


@register_policy_loss("kl_cov")
def kl_cov(logprobs, old_logprobs, advantages, mask, cfg: LossConfig, norm=None):
    """KL-Cov: unclipped policy gradient + |log ratio| penalty on top-covariance tokens."""
    _, ratio, log_ratio, metrics = _ppo_terms(logprobs, old_logprobs, advantages, mask, cfg, norm)
    losses = -advantages * ratio
    m = mask > 0
    k = int(cfg.kl_cov_ratio * int(m.sum()))
    penal = torch.zeros_like(losses).flatten()
    if k > 0:
        cov = _centred_cov(advantages, logprobs, mask).flatten().masked_fill(~m.flatten(), float("-inf"))
        penal[torch.topk(cov, k).indices] = 1.0
    penal = penal.view_as(losses)
    losses = losses + penal * cfg.kl_cov_coef * log_ratio.abs()
    metrics["kl_cov_frac"] = _token_mean(penal, mask, norm)
    return aggregate(losses, mask, cfg.agg, norm), metrics


@register_policy_loss("sft")
def sft_nll(logprobs, old_logprobs, advantages, mask, cfg: LossConfig, norm=None):
    """Supervised fine-tuning (``azr sft``): the negative log-likelihood of the masked target
    tokens, aggregated by ``cfg.agg``; ``old_logprobs`` and ``advantages`` are not used.
    Metrics: ``nll`` and ``target_prob`` (mean probability of the target tokens)."""
    nll = -aggregate(logprobs, mask, cfg.agg, norm)
    return nll, {"nll": nll.detach(), "target_prob": _token_mean(logprobs.detach().exp(), mask, norm)}


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate ``[B, T]``: ``k1 = logp - ref``,
    ``k3 = exp(ref - logp) - (ref - logp) - 1`` (non-negative, low variance)."""
    diff = ref_logprobs - logprobs
    if estimator == "k1":
        return -diff
    if estimator == "k3":
        diff = diff.clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)
        return diff.exp() - diff - 1.0
    raise ValueError(f"unknown KL estimator {estimator!r}")


def total_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cfg: LossConfig,
    norm: AggNorm | None = None,
    *,
    entropy: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Policy loss ``- entropy_coef * H + kl_coef * KL(ref)``, all ``[B, T]`` inputs.

    Metrics: ``policy``, ``total``, ``entropy`` (token mean; when ``entropy`` is given),
    ``kl_ref`` (when ``ref_logprobs`` is given) and the policy loss's own metrics.
    """
    if cfg.policy_loss not in POLICY_LOSSES:
        raise KeyError(f"unknown policy loss {cfg.policy_loss!r}; known: {sorted(POLICY_LOSSES)}")
    pg, metrics = POLICY_LOSSES[cfg.policy_loss](logprobs, old_logprobs, advantages, mask, cfg, norm)
    loss = pg
    metrics["policy"] = pg.detach()
    if entropy is not None:
        metrics["entropy"] = _token_mean(entropy, mask, norm)
        if cfg.entropy_coef:
            loss = loss - cfg.entropy_coef * aggregate(entropy, mask, cfg.agg, norm)
    elif cfg.entropy_coef:
        raise ValueError("entropy_coef is set but no entropy was given")
    if cfg.kl_coef:
        if ref_logprobs is None:
            raise ValueError("kl_coef is set but no reference log-probs were given")
        kl = kl_penalty(logprobs, ref_logprobs, cfg.kl_estimator)
        metrics["kl_ref"] = _token_mean(kl, mask, norm)
        loss = loss + cfg.kl_coef * aggregate(kl, mask, cfg.agg, norm)
    elif ref_logprobs is not None:
        metrics["kl_ref"] = _token_mean(kl_penalty(logprobs, ref_logprobs, cfg.kl_estimator), mask, norm)
    metrics["total"] = loss.detach()
    return loss, metrics
