"""One policy-gradient update: micro-batches by token budget, gradient accumulation, clipping.

``update_step(model, optimizer, scheduler, batch, loss_cfg, optim_cfg)`` runs forward/backward
over micro-batches of at most ``optim_cfg.micro_batch_tokens`` padded tokens (samples sorted by
length, each micro-batch cut to its own longest row), with every loss normalised by the whole
batch (``AggNorm``) so that any split gives the same gradient up to float rounding; then clips
the global grad norm, steps AdamW and the LR schedule. Samples with ``sample_mask == 0`` are
still forwarded (their entropy is reported) but contribute no gradient.

``recompute_logprobs`` gives the log-probs/entropies of a batch under a model without gradient
(old log-probs of the current policy, or a reference model's).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from azr.rl.batch import PolicyBatch
from azr.rl.config import LossConfig, OptimConfig
from azr.rl.logprobs import policy_logprobs
from azr.rl.losses import AggNorm, total_loss


@dataclass(frozen=True)
class UpdateResult:
    """What one update reports."""

    metrics: dict[str, float]  # "loss/policy", "loss/clipfrac_high", "loss/grad_norm", "loss/lr", ...
    entropy: torch.Tensor  # [B] float32 (CPU): mean full-distribution entropy over each response
    logprobs: torch.Tensor  # [B, T] float32 (CPU): log-probs before the update (0 off-response)


def split_micro_batches(lengths: list[int], token_budget: int) -> list[list[int]]:
    """Group sample indices so that ``len(group) * max length in group <= token_budget``.

    Samples are taken longest first; a sample longer than the budget gets a group of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and (len(groups[-1]) + 1) * lengths[groups[-1][0]] <= token_budget:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def autocast_context(device: torch.device, mode: str):
    """bf16 autocast for ``mode`` "bf16", or "auto" on CUDA; otherwise a no-op."""
    if mode == "bf16" or (mode == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def iter_micro_batches(batch: PolicyBatch, budget: int):
    """Yield ``(row indices, sub-batch cut to its longest row)`` per ``split_micro_batches``."""
    lengths = batch.attention_mask.sum(-1).tolist()
    for idx in split_micro_batches([int(n) for n in lengths], budget):
        width = max(int(lengths[i]) for i in idx)
        yield idx, batch.select(idx, width)


@torch.no_grad()
def recompute_logprobs(
    model: nn.Module,
    batch: PolicyBatch,
    *,
    temperature: float = 1.0,
    micro_batch_tokens: int = 8192,
    chunk_tokens: int = 1024,
    autocast: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logprobs [B, T], entropy [B, T])`` float32 on the response tokens, no gradient."""
    device = next(model.parameters()).device
    lp = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    ent = torch.zeros_like(lp)
    for idx, mb in iter_micro_batches(batch, micro_batch_tokens):
        mb = mb.to(device)
        with autocast_context(device, autocast):
            l, e = policy_logprobs(
                model, mb.input_ids, mb.attention_mask, mb.response_mask,
                temperature=temperature, chunk_tokens=chunk_tokens,
            )
        w = mb.input_ids.shape[1]
        lp[idx, :w] = l.float().cpu()
        ent[idx, :w] = e.float().cpu()
    return lp, ent


def update_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    batch: PolicyBatch,
    loss_cfg: LossConfig,
    optim_cfg: OptimConfig,
    *,
    temperature: float = 1.0,
) -> UpdateResult:
    """One optimiser step on ``batch`` (see the module doc). Metrics keys are ``loss/*``.

    The step is skipped (no parameter change; ``loss/skipped`` = 1) when no sample carries a
    loss token or when the gradient norm is not finite.
    """
    device = next(model.parameters()).device
    loss_mask_full = batch.response_mask * batch.sample_mask[:, None]
    resp_len = int(batch.response_mask.sum(-1).max()) if batch.size else 0
    norm = AggNorm.from_mask(loss_mask_full, loss_cfg.norm_length or max(resp_len, 1))
    trainable = norm.tokens > 0
    sums: dict[str, float] = {}
    entropy = torch.zeros(batch.size, dtype=torch.float32)
    logprobs = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    optimizer.zero_grad(set_to_none=True)
    n_micro = 0
    for idx, mb in iter_micro_batches(batch, optim_cfg.micro_batch_tokens):
        n_micro += 1
        mb = mb.to(device)
        mask = mb.response_mask * mb.sample_mask[:, None]
        train_mb = trainable and bool(mask.sum() > 0)
        with torch.set_grad_enabled(train_mb), autocast_context(device, optim_cfg.autocast):
            lp, ent = policy_logprobs(
                model, mb.input_ids, mb.attention_mask, mb.response_mask,
                temperature=temperature, chunk_tokens=optim_cfg.logprob_chunk_tokens,
            )
        ntok = mb.response_mask.sum(-1).clamp(min=1)
        entropy[idx] = ((ent.detach() * mb.response_mask).sum(-1) / ntok).float().cpu()
        logprobs[idx, : mb.input_ids.shape[1]] = lp.detach().float().cpu()
        if not train_mb:
            continue
        loss, metrics = total_loss(
            lp, mb.old_logprobs, mb.advantages, mask, loss_cfg, norm,
            entropy=ent, ref_logprobs=mb.ref_logprobs,
        )
        loss.backward()
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + float(v)
    out = {f"loss/{k}": v for k, v in sums.items()}
    out["loss/micro_batches"] = float(n_micro)
    out["loss/tokens"] = norm.tokens
    out["loss/lr"] = float(optimizer.param_groups[0]["lr"])
    out.update(apply_gradients(optimizer, scheduler, optim_cfg, trainable))
    return UpdateResult(metrics=out, entropy=entropy, logprobs=logprobs)


def _clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> float:
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    if hasattr(total, "full_tensor"):  # FSDP2 DTensor gradients
        total = total.full_tensor()
    return float(total)


def apply_gradients(
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    optim_cfg: OptimConfig,
    trainable: bool,
) -> dict[str, float]:
    """Clip the accumulated gradients, step the optimizer and the schedule, zero the gradients.

    A non-finite gradient norm skips the step (and the schedule). Returns
    ``{"loss/grad_norm": norm before clipping, "loss/skipped": 0.0 or 1.0}``.
    """
    grad_norm, skipped = 0.0, not trainable
    if trainable:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        max_norm = optim_cfg.grad_clip if optim_cfg.grad_clip is not None else math.inf
        grad_norm = _clip_grad_norm(params, max_norm)
        if not math.isfinite(grad_norm):
            skipped = True
        else:
            optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if scheduler is not None and not skipped:
        scheduler.step()
    return {"loss/grad_norm": grad_norm, "loss/skipped": float(skipped)}
