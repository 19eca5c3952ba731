"""Data-parallel policy update: DDP / FSDP2 wrapping and an update step equal to the
single-process update of the global batch.

Why a wrapper module: the RL core scores a causal LM through its backbone and a chunked LM
head (``azr.rl.logprobs.policy_logprobs``), never through ``model.forward``; DDP and FSDP2 hook
into ``forward``, so ``LogprobModule`` makes ``policy_logprobs`` the forward of the wrapped
module (FSDP2: the root unit then owns the embedding, final norm and head, unsharded during
the call).

How the gradient matches the single-process one (loss normalisation). Every rank holds a
shard of the global batch. The loss of each micro-batch is aggregated with the normalisers
of the *global* batch (``global_norm``: token counts, sequence counts and the response length
all-reduced), so the per-rank losses sum to the global loss; DDP (and FSDP2's
reduce-scatter) average gradients over ranks, so each rank's loss is multiplied by
``world_size`` before ``backward``. Micro-batches accumulate under ``no_sync``; only the
last one synchronises. Ranks with fewer micro-batches run empty ones (a two-token row with
no loss token) so that every rank issues the same number of backward passes. Gradient
clipping then sees the same global gradient on every rank, so the optimisers stay in step.
Metrics are partial sums on every rank (the global normalisers again) and are all-reduced:
they equal the single-process values. ``loss/micro_batches`` is the total over ranks.

On one process (no process group), ``distributed_update_step`` on the bare model is the RL
core's ``update_step`` (tests pin the equality).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from azr.distributed.dist import DistInfo, all_reduce_max, all_reduce_sum, current
from azr.rl.batch import PolicyBatch
from azr.rl.config import LossConfig, OptimConfig
from azr.rl.logprobs import policy_logprobs
from azr.rl.losses import AggNorm, total_loss
from azr.rl.update import UpdateResult, apply_gradients, autocast_context, split_micro_batches


class LogprobModule(nn.Module):
    """``forward(input_ids [B,T], attention_mask [B,T], score_mask [B,T])`` ->
    ``(logprobs [B,T], entropy [B,T])`` of the wrapped causal LM (``policy_logprobs``)."""

    def __init__(self, model: nn.Module, temperature: float = 1.0, chunk_tokens: int = 1024):
        super().__init__()
        self.model = model
        self.temperature = temperature
        self.chunk_tokens = chunk_tokens

    def forward(self, input_ids, attention_mask, score_mask):
        return policy_logprobs(self.model, input_ids, attention_mask, score_mask,
                               temperature=self.temperature, chunk_tokens=self.chunk_tokens)


def unwrap(module: nn.Module) -> nn.Module:
    """The causal LM inside DDP / ``LogprobModule`` (for checkpoints and rollout engines)."""
    while True:
        if isinstance(module, nn.parallel.DistributedDataParallel):
            module = module.module
        elif isinstance(module, LogprobModule):
            module = module.model
        else:
            return module


def wrap_ddp(model: nn.Module, info: DistInfo | None = None, **ddp_kwargs) -> nn.Module:
    """``DDP(LogprobModule(model))`` on the current process group (rank 0's weights are
    broadcast to all ranks); the bare ``LogprobModule`` on a single process."""
    info = info or current()
    wrapped = LogprobModule(model)
    if not info.distributed:
        return wrapped
    import inspect

    # buffers (rotary tables) are identical on every rank: no per-forward broadcast
    params = inspect.signature(nn.parallel.DistributedDataParallel).parameters
    no_sync_buffers = {"forward_sync_buffers": False} if "forward_sync_buffers" in params \
        else {"broadcast_buffers": False}
    kwargs = {**no_sync_buffers, "find_unused_parameters": False, **ddp_kwargs}
    if info.device.type == "cuda":
        kwargs.setdefault("device_ids", [info.device.index])
    return nn.parallel.DistributedDataParallel(wrapped, **kwargs)


def wrap_fsdp(model: nn.Module, info: DistInfo | None = None, mp_policy=None, reshard_after_forward: bool = True):
    """FSDP2: ``fully_shard`` every decoder layer, then ``LogprobModule(model)`` as the root.

    For models whose weights, gradients and Adam states do not fit one device. Parameters
    become DTensors sharded over the ranks (build the optimizer *after* wrapping); save with
    ``torch.distributed.checkpoint`` or gather a full state dict
    (``torch.distributed.checkpoint.state_dict.get_model_state_dict(..., full_state_dict=True)``)
    on rank 0. ``mp_policy``: e.g. ``MixedPrecisionPolicy(param_dtype=torch.bfloat16,
    reduce_dtype=torch.float32)``.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    info = info or current()
    mesh = init_device_mesh(info.device.type, (info.world_size,))
    kwargs = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if mp_policy is not None:
        kwargs["mp_policy"] = mp_policy
    layers = getattr(getattr(model, "base_model", model), "layers", None)
    for layer in layers or []:
        fully_shard(layer, **kwargs)
    root = LogprobModule(model)
    fully_shard(root, **kwargs)
    return root


def _sync(module: nn.Module, enabled: bool):
    """Context in which backward passes do (or do not) synchronise gradients."""
    if isinstance(module, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext() if enabled else module.no_sync()
    if hasattr(module, "set_requires_gradient_sync"):  # FSDP2
        module.set_requires_gradient_sync(enabled)
    return contextlib.nullcontext()


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


def distributed_update_step(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    batch: PolicyBatch,
    loss_cfg: LossConfig,
    optim_cfg: OptimConfig,
    *,
    temperature: float = 1.0,
    info: DistInfo | None = None,
) -> UpdateResult:
    """One optimiser step on this rank's shard ``batch`` (see the module doc).

    Args:
        module: ``wrap_ddp(model)`` / ``wrap_fsdp(model)`` (or a bare causal LM on one process).
        batch: this rank's rows of the global batch, advantages already computed globally
            (``azr.distributed.dist.global_advantages``).
    Returns:
        ``UpdateResult``: global ``loss/*`` metrics (identical on every rank), and this
        rank's per-sample ``entropy [B_r]`` and pre-update ``logprobs [B_r, T_r]``.
    """
    info = info or current()
    scorer = module if isinstance(module, (LogprobModule, nn.parallel.DistributedDataParallel)) \
        else LogprobModule(module)
    head = scorer.module if isinstance(scorer, nn.parallel.DistributedDataParallel) else scorer
    head.temperature, head.chunk_tokens = temperature, optim_cfg.logprob_chunk_tokens
    inner = unwrap(scorer)
    device = next(inner.parameters()).device
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
        with _sync(scorer, last), torch.set_grad_enabled(trainable):
            with autocast_context(device, optim_cfg.autocast):
                lp, ent = scorer(mb.input_ids, mb.attention_mask, mb.response_mask)
            if trainable:
                loss, metrics = total_loss(lp, mb.old_logprobs, mb.advantages, mask, loss_cfg, norm,
                                           entropy=ent, ref_logprobs=mb.ref_logprobs)
                (loss * info.world_size).backward()
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().double().cpu()
        _sync(scorer, True)
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

