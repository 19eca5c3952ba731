"""torch.distributed plumbing for data-parallel runs: set-up, sharding, gathers, rank 0.

A data-parallel run is ``world_size`` copies of the same program (launched by ``torchrun``,
which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Without
those variables everything here degrades to the single-process case (rank 0 of 1, no
collective is issued), so callers need no ``if distributed`` branches.

- ``init_distributed()``: gloo on CPU, nccl on GPU (one GPU per local rank).
- ``shard_range(n, rank, world)``: contiguous blocks whose sizes differ by at most one, so
  concatenating the shards in rank order restores the original order.
- ``all_gather_rows`` / ``all_gather_objects``: rank-ordered concatenation of per-rank rows.
(Advantages over the global batch, DDP/FSDP wrapping and the update step live in the RL
core: ``azr.rl.parallel``, ``azr.rl.update``; this module imports nothing of azr.)
- ``on_main`` / ``barrier``: rank-0-only side effects (checkpoints, metrics, samples).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the data-parallel group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None  # "gloo" | "nccl" | None (single process)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def env_ranks() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's variables (default ``(0, 1, 0)``)."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def init_distributed(backend: str = "auto", device: str = "auto", timeout_s: float = 1800.0,
                     cpu_collectives: bool = False) -> DistInfo:
    """Join the process group described by the environment (idempotent); return ``DistInfo``.

    Args:
        backend: "auto" (nccl when CUDA is available, else gloo), "gloo" or "nccl".
        device: "auto" (``cuda:LOCAL_RANK`` when CUDA is available, else cpu), "cpu" or "cuda".
        timeout_s: collective timeout.
        cpu_collectives: on CUDA, also give the group a gloo backend for CPU tensors
            ("cpu:gloo,cuda:nccl"): FSDP2 with CPU offload reduces and gathers CPU shards
            (gradient norm, checkpoint gathers). ``DistInfo.backend`` still says "nccl".
    """
    rank, world, local = env_ranks()
    use_cuda = torch.cuda.is_available() and device != "cpu"
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world <= 1:
        return DistInfo(0, 1, 0, dev, None)
    if backend == "auto":
        backend = "nccl" if use_cuda else "gloo"
    if backend == "nccl" and cpu_collectives:
        backend = "cpu:gloo,cuda:nccl"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s),
                                device_id=dev if "nccl" in backend else None)
    return DistInfo(rank, world, local, dev, _main_backend())


def _main_backend() -> str:
    """"nccl" when the group has an NCCL backend (alone or beside gloo), else its backend."""
    name = str(dist.get_backend())
    return "nccl" if "nccl" in name else name


def current() -> DistInfo:
    """``DistInfo`` of the initialised process group (single process when there is none)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return DistInfo()
    backend = _main_backend()
    dev = torch.device(f"cuda:{torch.cuda.current_device()}") if backend == "nccl" else torch.device("cpu")
    return DistInfo(dist.get_rank(), dist.get_world_size(), env_ranks()[2], dev, backend)


def destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if current().distributed:
        dist.barrier()


def on_main(fn: Callable[..., T], *args, **kwargs) -> T | None:
    """Run ``fn`` on rank 0 only (e.g. writing metrics or a checkpoint), then synchronise.

    Returns ``fn``'s result on rank 0 and None elsewhere. Every rank must call it.
    """
    info = current()
    out = fn(*args, **kwargs) if info.is_main else None
    barrier()
    return out


def shard_range(n: int, rank: int, world: int) -> range:
    """Indices of rank ``rank``'s contiguous block of ``n`` items (sizes differ by <= 1)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} outside world of {world}")
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


def shard(items: Sequence[T], info: DistInfo | None = None) -> list[T]:
    """This rank's contiguous block of ``items``."""
    info = info or current()
    return [items[i] for i in shard_range(len(items), info.rank, info.world_size)]


def _comm_device(info: DistInfo) -> torch.device:
    return info.device if info.backend == "nccl" else torch.device("cpu")


def all_gather_rows(x: torch.Tensor, info: DistInfo | None = None) -> torch.Tensor:
    """Concatenate every rank's ``x [n_r, ...]`` along dim 0 in rank order -> ``[sum n_r, ...]``.

    Ranks may hold different ``n_r``; all other dims must agree. Result on ``x``'s device.
    """
    info = info or current()
    if not info.distributed:
        return x
    dev = _comm_device(info)
    n = torch.tensor([x.shape[0]], dtype=torch.long, device=dev)
    sizes = [torch.zeros_like(n) for _ in range(info.world_size)]
    dist.all_gather(sizes, n)
    sizes_l = [int(s) for s in sizes]
    m = max(sizes_l)
    padded = torch.zeros((m, *x.shape[1:]), dtype=x.dtype, device=dev)
    padded[: x.shape[0]] = x.to(dev)
    parts = [torch.zeros_like(padded) for _ in range(info.world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:k] for p, k in zip(parts, sizes_l)]).to(x.device)


def all_gather_objects(items: Sequence[Any], info: DistInfo | None = None) -> list[Any]:
    """Concatenate every rank's list of picklable ``items`` in rank order."""
    info = info or current()
    if not info.distributed:
        return list(items)
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, list(items))
    return [x for part in out for x in part]


def all_reduce_sum(values: torch.Tensor, info: DistInfo | None = None) -> torch.Tensor:
    """Element-wise sum over ranks of ``values`` (any shape); float64 on the CPU."""
    info = info or current()
    t = values.detach().double()
    if not info.distributed:
        return t.cpu()
    t = t.to(_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu()


def all_reduce_max(value: int | float, info: DistInfo | None = None) -> float:
    info = info or current()
    if not info.distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)
