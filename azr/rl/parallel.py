"""Data parallelism of the RL core: the scoring module that DDP / FSDP2 wrap, and
advantages over the global batch.

Why a wrapper module: the RL core scores a causal LM through its backbone and a chunked LM
head (``azr.rl.logprobs.policy_logprobs``), never through ``model.forward``; DDP and FSDP2 hook
into ``forward``, so ``LogprobModule`` makes ``policy_logprobs`` the forward of the wrapped
module (FSDP2: the root unit then owns the embedding, final norm and head, unsharded during
the call). On a single process (no process group) ``wrap_ddp`` returns the bare
``LogprobModule`` and ``global_advantages`` is the estimator itself, so callers never branch
on distribution.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import nn

from azr.distributed.dist import DistInfo, all_gather_rows, all_reduce_max, current
from azr.rl.advantages import compute_advantages
from azr.rl.logprobs import policy_logprobs


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


def wrap_fsdp(model: nn.Module, info: DistInfo | None = None, mp_policy=None, reshard_after_forward: bool = True,
              cpu_offload: bool = False):
    """FSDP2: ``fully_shard`` every decoder layer, then ``LogprobModule(model)`` as the root.

    For models whose weights, gradients and Adam states do not fit one device. Parameters
    become DTensors sharded over the ranks, in place (``model`` itself is sharded; build the
    optimizer *after* wrapping, or use ``wrap_policy``). Checkpoints: ``gathered_state``
    gathers the full weights and optimizer state for rank 0. ``mp_policy``: e.g.
    ``MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)``.
    ``cpu_offload``: parameter shards, gradients and optimizer states live on the CPU
    (``CPUOffloadPolicy``; the optimizer step runs there).
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard

    info = info or current()
    mesh = init_device_mesh(info.device.type, (info.world_size,))
    kwargs = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if mp_policy is not None:
        kwargs["mp_policy"] = mp_policy
    if cpu_offload:
        kwargs["offload_policy"] = CPUOffloadPolicy(pin_memory=info.device.type == "cuda")
    layers = getattr(getattr(model, "base_model", model), "layers", None)
    for layer in layers or []:
        fully_shard(layer, **kwargs)
    root = LogprobModule(model)
    fully_shard(root, **kwargs)
    return root


def is_sharded(model: nn.Module) -> bool:
    """Whether ``model``'s parameters are FSDP2 DTensors."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def compute_device(model: nn.Module, info: DistInfo | None = None) -> torch.device:
    """Where ``model``'s forward runs: this rank's device for an FSDP2-sharded model (its
    shards may live on the CPU under ``cpu_offload``), else its parameters' device."""
    device = next(model.parameters()).device
    if device.type == "cpu" and is_sharded(model):
        return (info or current()).device
    return device


def wrap_policy(model: nn.Module, optimizer, scheduler, optim_cfg, dist_cfg, info: DistInfo | None = None):
    """The update module of ``model`` under ``dist_cfg.strategy``: ``(module, optimizer, scheduler)``.

    One process: ``model`` itself, the optimizer and scheduler unchanged. "ddp":
    ``wrap_ddp(model)``, optimizer and scheduler unchanged. "fsdp": ``wrap_fsdp(model)`` (sharded
    in place) with a new optimizer and scheduler over the sharded parameters (``optim_cfg``:
    the ``OptimConfig`` they were built from) that carry over the given ones' state (a
    resumed run's moments, step counts and learning rate), each rank keeping its shard.

    Args:
        model: the causal LM, unwrapped, with ``optimizer`` built over its parameters.
        dist_cfg: the ``DistributedConfig`` (``strategy``, ``cpu_offload``).
    """
    from azr.rl.optim import build_optimizer, build_scheduler

    info = info or current()
    if not info.distributed:
        return model, optimizer, scheduler
    if dist_cfg.strategy == "ddp":
        return wrap_ddp(model, info), optimizer, scheduler
    if dist_cfg.strategy != "fsdp":
        raise ValueError(f"unknown distributed strategy {dist_cfg.strategy!r}")
    opt_state = optimizer.state_dict()
    sched_state = scheduler.state_dict() if scheduler is not None else None
    optimizer.state.clear()  # the full moments are in opt_state; the old optimizer is dropped
    module = wrap_fsdp(model, info, cpu_offload=dist_cfg.cpu_offload)
    new_opt = build_optimizer(model, optim_cfg)
    new_sched = build_scheduler(new_opt, optim_cfg) if scheduler is not None else None
    load_optimizer_state(new_opt, opt_state)
    if new_sched is not None:
        new_sched.load_state_dict(sched_state)
    return module, new_opt, new_sched


def _full(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a DTensor (an all-gather: every rank calls it) or ``t`` itself."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def gathered_state(model: nn.Module, optimizer, keep: bool) -> tuple[dict, dict | None] | None:
    """Full (unsharded) weights and optimizer state of an FSDP2-sharded ``model``, for a checkpoint.

    A collective: every rank calls it, tensor by tensor in the same order; only where ``keep``
    (rank 0) are the CPU copies kept: ``({name: tensor}, optimizer.state_dict() with whole
    tensors)``, the format of an unsharded model and optimizer, so the checkpoint loads with
    ``from_pretrained`` and resumes under any strategy and world size. Tied parameters are
    kept under their first name. Elsewhere ``({}, None)``. None when ``model`` is not sharded
    (the caller saves the model as it is).
    """
    if not is_sharded(model):
        return None
    weights: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            continue
        seen.add(id(t))
        whole = _full(t.detach())
        if keep:
            weights[name] = whole.to("cpu", copy=True)
    if optimizer is None:
        return weights, None
    sd = optimizer.state_dict()
    state: dict = {}
    for idx, entry in sd["state"].items():
        full_entry = {}
        for k, v in entry.items():
            whole = _full(v) if torch.is_tensor(v) else v
            full_entry[k] = whole.to("cpu", copy=True) if torch.is_tensor(whole) else whole
        state[idx] = full_entry
    return (weights, {"state": state, "param_groups": sd["param_groups"]}) if keep else ({}, None)


def load_optimizer_state(optimizer, state: dict) -> None:
    """Load a whole-tensor ``optimizer.state_dict()`` (of an unsharded optimizer over the same
    parameters, in the same order) into ``optimizer``, whose parameters may be DTensors: each
    moment is cut to this rank's shard like its parameter (no communication)."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    params = [p for g in optimizer.param_groups for p in g["params"]]
    sharded = {}
    for idx, entry in state["state"].items():
        p = params[int(idx)]
        out = {}
        for k, v in entry.items():
            if isinstance(p, DTensor) and torch.is_tensor(v) and not isinstance(v, DTensor) and v.shape == p.shape:
                v = distribute_tensor(v.to(p.dtype), p.device_mesh, p.placements, src_data_rank=None)
            out[k] = v
        sharded[idx] = out
    optimizer.load_state_dict({"state": sharded, "param_groups": state["param_groups"]})


def sync_gradients(module: nn.Module, enabled: bool):
    """Context in which backward passes do (or do not) synchronise gradients."""
    if isinstance(module, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext() if enabled else module.no_sync()
    if hasattr(module, "set_requires_gradient_sync"):  # FSDP2
        module.set_requires_gradient_sync(enabled)
    return contextlib.nullcontext()


def _pad_cols(x: torch.Tensor, width: int) -> torch.Tensor:
    if x.shape[1] >= width:
        return x
    return torch.cat([x, x.new_zeros((x.shape[0], width - x.shape[1]))], dim=1)


def global_advantages(
    scores: torch.Tensor,
    response_mask: torch.Tensor,
    group_ids: torch.Tensor,
    cfg,
    estimator: Callable[..., torch.Tensor] | None = None,
    info: DistInfo | None = None,
) -> torch.Tensor:
    """This rank's advantages ``[B_r, T_r]`` computed over the global batch.

    Args:
        scores: ``[B_r]`` rewards of this rank's samples.
        response_mask: ``[B_r, T_r]`` (ranks may differ in ``T_r``; padded to the global max).
        group_ids: ``[B_r]`` long; must mean the same group on every rank (TRR++: the
            (task, role) index; GRPO/RLOO: a global prompt index, not a per-rank one).
        cfg: the ``AdvantageConfig``.
        estimator: ``fn(scores, mask, group_ids, cfg) -> [B, T]``; default the RL core's
            ``compute_advantages`` (the registry dispatch).
    """
    if estimator is None:
        estimator = compute_advantages
    info = info or current()
    if not info.distributed:
        return estimator(scores, response_mask, group_ids, cfg)
    rows = all_gather_rows(torch.tensor([scores.shape[0]]), info)  # [world] batch sizes
    width = int(all_reduce_max(response_mask.shape[1], info))
    g_scores = all_gather_rows(scores.double(), info).to(scores.dtype)
    g_mask = all_gather_rows(_pad_cols(response_mask.float(), width), info).to(response_mask.dtype)
    g_groups = all_gather_rows(group_ids.long(), info)
    adv = estimator(g_scores, g_mask, g_groups, cfg)
    start = int(rows[: info.rank].sum())
    return adv[start : start + scores.shape[0], : response_mask.shape[1]]

