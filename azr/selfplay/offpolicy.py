"""Off-policy exploration mixing: a fraction of rollouts comes from a different sampler.

The study's "escape the support bound" direction: RL with verifiable rewards only re-weights
what the policy already samples, so part of each group is drawn from a *behaviour* sampler
mu (a higher temperature, or another model such as the base) and the update corrects for it
with importance weights w = pi_old(y) / mu(y) (LUFFY, Yan et al. 2025, mixes off-policy
traces the same way). Raw weights have unbounded variance, so they are truncated at ``cap``
(truncated importance sampling, Ionides 2008; used for rollout/trainer mismatch by Yao et
al. 2025, "Your efficient RL framework secretly brings you off-policy RL training"):

    w_t = min(exp(logp_old_t - logp_mu_t), cap)                      (level "token")
    w   = min(exp(sum_t logp_old_t - logp_mu_t), cap), for every t    (level "sequence")

The weights are constants (no gradient) that multiply the per-token policy loss of the
off-policy samples; on-policy samples get weight 1. ``logp_mu`` is what the engine reports
for a sampled token (``Completion.logprobs``: after temperature/top-p), ``logp_old`` the
policy's log-prob of the same token at temperature 1 before the update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from azr.distributed.dist import all_reduce_sum

if TYPE_CHECKING:
    from azr.rl.batch import PolicyBatch

LEVELS = ("token", "sequence")


def explore_count(n_per_prompt: int, fraction: float) -> int:
    """Rollouts per group drawn by the behaviour sampler: ``round(fraction * n)``, at most
    ``n - 1`` when ``fraction < 1`` (each group keeps an on-policy sample)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"exploration fraction must be in [0, 1], got {fraction}")
    if n_per_prompt < 1:
        raise ValueError(f"need n_per_prompt >= 1, got {n_per_prompt}")
    k = round(fraction * n_per_prompt)
    return k if fraction == 1.0 else min(k, n_per_prompt - 1)


def importance_weights(
    old_logprobs: torch.Tensor,
    behaviour_logprobs: torch.Tensor,
    response_mask: torch.Tensor,
    off_policy: torch.Tensor,
    *,
    cap: float = 2.0,
    level: str = "token",
    info=None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Truncated importance weights of the off-policy samples.

    Args:
        old_logprobs: [B, T] log pi_old of the sampled tokens (temperature 1, before the update).
        behaviour_logprobs: [B, T] log mu of the same tokens (what the sampler reported).
        response_mask: [B, T] 1 for response tokens, 0 for padding.
        off_policy: [B] bool, True for samples drawn by the behaviour sampler.
        cap: truncation c >= 1 of the weights (``float('inf')`` disables truncation).
        level: "token" (per-token ratios) or "sequence" (the product over the response).
        info: ``azr.distributed.dist.DistInfo``; under data parallelism the metrics are those
            of the global batch (their sums are all-reduced; a no-op on one process).

    Returns:
        weights [B, T] (float, detached; 1 for on-policy samples and padding 0), and metrics
        over the off-policy response tokens: ``explore/weight_mean``, ``explore/truncated_frac``,
        ``explore/ess`` (effective sample size / count, in (0, 1]), ``explore/fraction``.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if cap < 1.0:
        raise ValueError(f"cap must be >= 1, got {cap}")
    if old_logprobs.shape != behaviour_logprobs.shape or old_logprobs.shape != response_mask.shape:
        raise ValueError(
            f"shape mismatch: old {tuple(old_logprobs.shape)}, behaviour {tuple(behaviour_logprobs.shape)}, "
            f"mask {tuple(response_mask.shape)}"
        )
    if off_policy.shape != old_logprobs.shape[:1]:
        raise ValueError(f"off_policy must have shape [{old_logprobs.shape[0]}], got {tuple(off_policy.shape)}")
    with torch.no_grad():
        mask = response_mask.to(torch.float32)
        log_ratio = (old_logprobs.float() - behaviour_logprobs.float()) * mask
        if level == "sequence":
            log_ratio = log_ratio.sum(dim=-1, keepdim=True).expand_as(mask)
        raw = torch.exp(log_ratio.clamp(max=80.0))
        weights = raw.clamp(max=cap)
        off = off_policy.to(torch.bool)[:, None].expand_as(mask)
        weights = torch.where(off, weights, torch.ones_like(weights)) * mask
        sel = off & (mask > 0)
        w = weights[sel].double()
        sums = torch.stack([torch.tensor(float(off_policy.numel())), off_policy.double().sum(),
                            torch.tensor(float(w.numel())), w.sum(), (w**2).sum(),
                            (raw[sel] > cap).double().sum()])
    return weights, weight_metrics(all_reduce_sum(sums, info))


def weight_metrics(sums: torch.Tensor) -> dict[str, float]:
    """``explore/*`` metrics from the sums [rows, off-policy rows, off-policy tokens, sum w,
    sum w^2, truncated tokens] (summed over ranks under data parallelism)."""
    rows, off_rows, n, w_sum, w2_sum, truncated = (float(x) for x in sums)
    metrics = {"explore/fraction": off_rows / rows if rows else 0.0}
    if n:
        metrics["explore/weight_mean"] = w_sum / n
        metrics["explore/truncated_frac"] = truncated / n
        metrics["explore/ess"] = w_sum**2 / max(n * w2_sum, 1e-12)
    return metrics


def reweight_off_policy(model, batch, off_policy: torch.Tensor, *, temperature: float, cap: float, level: str,
                        optim_cfg, info=None) -> tuple["PolicyBatch", dict[str, float]]:
    """Correct a ``PolicyBatch`` whose rows ``off_policy`` [B] were drawn by a behaviour sampler.

    ``batch.old_logprobs`` must hold what the samplers reported (mu for those rows). The
    policy's log-probs pi_old of the off-policy rows are recomputed (no gradient, at
    ``temperature``, the rollout temperature of the update); those rows then get
    ``old_logprobs = pi_old`` (their PPO ratio is pi_theta / pi_old) and
    ``advantages * min(pi_old / mu, cap)``. On-policy rows are returned unchanged and cost no
    forward pass. A trainer calls this after computing advantages, before the update.

    Data parallelism: ``batch`` and ``off_policy`` are this rank's rows; every rank must call
    this when any rank has off-policy rows (the metrics are all-reduced over ``info``'s ranks).
    ``model`` may be DDP/FSDP-wrapped: the log-probs are recomputed by the inner model.
    """
    from dataclasses import replace

    from azr.rl.parallel import unwrap
    from azr.rl.update import recompute_logprobs

    old = batch.old_logprobs.clone()
    if bool(off_policy.any()):
        rows = torch.nonzero(off_policy, as_tuple=True)[0]
        sub, _ = recompute_logprobs(unwrap(model), batch.select(rows), temperature=temperature,
                                    micro_batch_tokens=optim_cfg.micro_batch_tokens,
                                    chunk_tokens=optim_cfg.logprob_chunk_tokens, autocast=optim_cfg.autocast)
        old[rows] = sub
    weights, metrics = importance_weights(old, batch.old_logprobs, batch.response_mask, off_policy,
                                          cap=cap, level=level, info=info)
    return replace(batch, advantages=batch.advantages * weights, old_logprobs=old), metrics


def behaviour_engine(model_cfg, rollout_cfg, controls, engine, tokenizer):
    """The behaviour sampler of exploration mixing: an engine over the fixed model
    ``controls.explore_model`` (loaded like ``model_cfg``, sharing ``tokenizer``) when it is
    set and mixing is on; else ``engine`` itself (the policy, at ``explore_temperature``)."""
    if not controls.explore_model or controls.explore_fraction == 0:
        return engine
    from dataclasses import replace

    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_model

    other = load_model(replace(model_cfg, path=controls.explore_model))
    rows = other.get_input_embeddings().num_embeddings
    if rows < len(tokenizer):
        raise ValueError(f"controls.explore_model {controls.explore_model}: its embedding has {rows} rows, fewer "
                         f"than the policy tokenizer's {len(tokenizer)} tokens (the two must share a tokenizer)")
    other.eval()
    return HFEngine(other, tokenizer, rollout_cfg)
