"""The policy-gradient update: the one update step of every trainer, on one process or many.

``update_step(model, optimizer, scheduler, batch, loss_cfg, optim_cfg)`` runs forward/backward
over micro-batches of at most ``optim_cfg.micro_batch_tokens`` padded tokens (samples sorted by
length, each micro-batch cut to its own longest row), with every loss normalised by the whole
(global) batch (``AggNorm``) so that any split gives the same gradient up to float rounding;
then clips the global grad norm, steps AdamW and the LR schedule. Samples with
``sample_mask == 0`` are still forwarded (their entropy is reported) but contribute no gradient.

Data parallelism (torchrun; ``model`` wrapped by ``azr.rl.parallel.wrap_ddp`` / ``wrap_fsdp``):
every rank holds a shard of the global batch. The normalisers are those of the *global*
batch (``global_norm``: token and sequence counts summed, the response length maximised
over ranks), so the per-rank losses sum to the global loss; DDP (and FSDP2's reduce-scatter)
average gradients over ranks, so each rank's loss is multiplied by ``world_size`` before
``backward``. Micro-batches accumulate without gradient sync; only the last one
synchronises. Ranks with fewer micro-batches run empty ones (a two-token row with no loss
token) so that every rank issues the same number of backward passes. Metrics are partial
sums all-reduced over ranks: they equal the single-process values. Without a process group
every collective is a no-op (``azr.distributed.dist``) and this is the plain single-process
step: there is no second code path.

``recompute_logprobs`` gives the log-probs/entropies of a batch under a model without gradient
(old log-probs of the current policy, or a reference model's).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from azr.distributed.dist import DistInfo, all_gather_rows, all_reduce_max, all_reduce_sum, current
from azr.rl.batch import PolicyBatch
from azr.rl.config import LossConfig, OptimConfig
from azr.rl.logprobs import policy_logprobs
from azr.rl.losses import AggNorm, total_loss
from azr.rl.parallel import LogprobModule, compute_device, sync_gradients, unwrap


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


def global_norm(batch: PolicyBatch, loss_cfg: LossConfig, info: DistInfo | None = None) -> AggNorm:
    """The loss normalisers of the global batch (sum of the ranks' token and sequence
    counts; the longest response over all ranks), as the single-process update computes them."""
    mask = batch.response_mask * batch.sample_mask[:, None]
    local = AggNorm.from_mask(mask)
    tokens, seqs = all_reduce_sum(torch.tensor([local.tokens, local.seqs]), info).tolist()
    resp_len = int(batch.response_mask.sum(-1).max()) if batch.size else 0
    length = loss_cfg.norm_length or max(int(all_reduce_max(resp_len, info)), 1)
    return AggNorm(float(tokens), float(seqs), float(length))


def _empty_micro_batch(device: torch.device) -> PolicyBatch:
    """Two tokens, no loss token: lets a rank join a backward pass it has no data for."""
    z = torch.zeros((1, 2), dtype=torch.float32)
    return PolicyBatch(torch.zeros((1, 2), dtype=torch.long), torch.ones((1, 2), dtype=torch.long),
                       z, z.clone(), z.clone(), torch.zeros(1)).to(device)


def update_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    batch: PolicyBatch,
    loss_cfg: LossConfig,
    optim_cfg: OptimConfig,
    *,
    temperature: float = 1.0,
    info: DistInfo | None = None,
) -> UpdateResult:
    """One optimiser step on ``batch`` (see the module doc). Metrics keys are ``loss/*``.

    Args:
        model: a causal LM, or ``wrap_ddp(model)`` / ``wrap_fsdp(model)`` (``azr.rl.parallel``).
        batch: this rank's rows of the global batch (all rows on one process), advantages
            already computed over the global batch (``azr.rl.parallel.global_advantages``).
    Returns:
        ``UpdateResult``: global ``loss/*`` metrics (identical on every rank), and this
        rank's per-sample ``entropy [B_r]`` and pre-update ``logprobs [B_r, T_r]``.

    The step is skipped (no parameter change; ``loss/skipped`` = 1) when no sample carries a
    loss token or when the gradient norm is not finite.
    """
    info = info or current()
    scorer = model if isinstance(model, (LogprobModule, nn.parallel.DistributedDataParallel)) \
        else LogprobModule(model)
    head = scorer.module if isinstance(scorer, nn.parallel.DistributedDataParallel) else scorer
    head.temperature, head.chunk_tokens = temperature, optim_cfg.logprob_chunk_tokens
    inner = unwrap(scorer)
    device = compute_device(inner, info)  # FSDP2 shards offloaded to the CPU: still the rank's device
    norm = global_norm(batch, loss_cfg, info)
    trainable = norm.tokens > 0
    lengths = [int(n) for n in batch.attention_mask.sum(-1).tolist()]
    groups = split_micro_batches(lengths, optim_cfg.micro_batch_tokens) if batch.size else []
    n_slots = int(all_reduce_max(len(groups), info))
    entropy = torch.zeros(batch.size, dtype=torch.float32)
    logprobs = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    sums: dict[str, torch.Tensor] = {}
    optimizer.zero_grad(set_to_none=True)
    for slot in range(n_slots):
        real = slot < len(groups)
        if real:
            idx = groups[slot]
            mb = batch.select(idx, max(lengths[i] for i in idx)).to(device)
        else:
            mb = _empty_micro_batch(device)
        mask = mb.response_mask * mb.sample_mask[:, None]
        last = slot == n_slots - 1
        with sync_gradients(scorer, last), torch.set_grad_enabled(trainable):
            with autocast_context(device, optim_cfg.autocast):
                lp, ent = scorer(mb.input_ids, mb.attention_mask, mb.response_mask)
            if trainable:
                loss, metrics = total_loss(lp, mb.old_logprobs, mb.advantages, mask, loss_cfg, norm,
                                           entropy=ent, ref_logprobs=mb.ref_logprobs)
                (loss * info.world_size).backward()
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().double().cpu()
        sync_gradients(scorer, True)
        if real:
            ntok = mb.response_mask.sum(-1).clamp(min=1)
            entropy[idx] = ((ent.detach() * mb.response_mask).sum(-1) / ntok).float().cpu()
            logprobs[idx, : mb.input_ids.shape[1]] = lp.detach().float().cpu()
    keys = sorted(sums)
    reduced = all_reduce_sum(torch.stack([torch.as_tensor(sums[k]) for k in keys]), info) if keys else []
    out = {f"loss/{k}": float(v) for k, v in zip(keys, reduced)}
    out["loss/micro_batches"] = float(all_reduce_sum(torch.tensor([float(len(groups))]), info)[0])
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


_SUMMED = ("loss/micro_batches", "loss/tokens", "loss/skipped")


def group_token_weights(counts: torch.Tensor, group: int) -> torch.Tensor:
    """Per-row factors ``[n]`` for the sample weights of ``n`` consecutive rows with ``counts
    [n]`` loss tokens, such that the token mean over all rows becomes the mean, over the
    consecutive groups of ``group`` rows that hold loss tokens, of each group's token mean
    (the reference's per-micro-batch normalisation). The weighted token count is unchanged,
    so the batch's normaliser is too. ``group <= 0`` or ``group >= n``: all ones."""
    n = counts.numel()
    if group <= 0 or n <= group:
        return torch.ones(n, dtype=torch.float32)
    c = counts.double()
    gid = torch.arange(n) // group
    per_group = torch.zeros(int(gid.max()) + 1, dtype=torch.float64).index_add_(0, gid, c)
    live = int((per_group > 0).sum())
    if live == 0:
        return torch.ones(n, dtype=torch.float32)
    tok = per_group[gid]
    w = torch.where(tok > 0, c.sum() / (tok.clamp(min=1e-12) * live), torch.ones_like(tok))
    return w.float()


def ppo_update(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    batch: PolicyBatch,
    loss_cfg: LossConfig,
    optim_cfg: OptimConfig,
    *,
    temperature: float = 1.0,
    info: DistInfo | None = None,
    rows: range | None = None,
    n_rows: int | None = None,
) -> UpdateResult:
    """PPO over mini-batches: ``optim_cfg.ppo_epochs`` passes, each cutting the global batch
    into consecutive chunks of ``optim_cfg.ppo_mini_batch`` rows (``azr.rl.minibatch``; 0 = one
    chunk) and taking one ``update_step`` (one optimizer step) per chunk, every chunk against
    the same ``batch.old_logprobs``, fixed before the first one: from the second chunk on the
    policy has moved and the ratio clip acts (the reference's ``update_policy``).

    ``rows``: this rank's rows of the global batch of ``n_rows`` rows (default: all of them,
    one process); a rank takes part in every chunk, with the rows of the chunk it holds
    (possibly none). Loss normalisers are those of each chunk (global over ranks). The LR
    schedule advances once per optimizer step.

    Returns the chunks' ``loss/*`` metrics (means; ``loss/micro_batches``, ``loss/tokens`` and
    ``loss/skipped`` summed; ``loss/lr`` of the last step) plus ``loss/mini_batches`` and
    ``loss/optimizer_steps`` (steps not skipped), and each row's entropy and log-probs from
    the first pass (log-probs of the policy before its own chunk's step).
    """
    from azr.rl.minibatch import mini_batch_rows

    rows = rows if rows is not None else range(batch.size)
    n_rows = n_rows if n_rows is not None else batch.size
    if len(rows) != batch.size:
        raise ValueError(f"rows {rows} do not match a local batch of {batch.size}")
    chunks = mini_batch_rows(n_rows, optim_cfg.ppo_mini_batch, optim_cfg.ppo_epochs)
    per_pass = len(chunks) // optim_cfg.ppo_epochs if chunks else 0
    entropy = torch.zeros(batch.size, dtype=torch.float32)
    logprobs = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    collected: list[dict[str, float]] = []
    regroup = loss_cfg.agg == "token-mean" and loss_cfg.token_mean_group > 0
    for k, chunk in enumerate(chunks):
        local = [i - rows.start for i in chunk if rows.start <= i < rows.stop]
        part = batch.select(local)
        if regroup and len(chunk) > loss_cfg.token_mean_group:
            counts = all_gather_rows((part.response_mask * part.sample_mask[:, None]).sum(-1).float(), info)
            w = group_token_weights(counts, loss_cfg.token_mean_group)
            at = torch.as_tensor([rows.start + i - chunk[0] for i in local], dtype=torch.long)
            part = replace(part, sample_mask=part.sample_mask * w[at].to(part.sample_mask.dtype))
        res = update_step(model, optimizer, scheduler, part, loss_cfg, optim_cfg,
                          temperature=temperature, info=info)
        collected.append(res.metrics)
        if k < per_pass and local:
            entropy[local] = res.entropy
            logprobs[local] = res.logprobs
    out: dict[str, float] = {}
    for key in sorted({k for m in collected for k in m}):
        vals = [m[key] for m in collected if key in m]
        if key in _SUMMED:
            out[key] = float(sum(vals))
        elif key == "loss/lr":
            out[key] = vals[-1]
        else:
            out[key] = float(sum(vals) / len(vals))
    out["loss/mini_batches"] = float(len(chunks))
    out["loss/optimizer_steps"] = float(len(chunks)) - out.get("loss/skipped", 0.0)
    return UpdateResult(metrics=out, entropy=entropy, logprobs=logprobs)
