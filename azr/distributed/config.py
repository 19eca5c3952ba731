"""The ``distributed`` config section: how the update module is spread over the ranks.

Torch-free (``azr.config`` composes it). It only matters under a process group (``--nproc N``
with N > 1, or torchrun); a single process trains the bare model whatever it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DistributedConfig:
    """Data-parallel strategy of the policy update.

    - ``strategy``: "ddp" (every rank holds the whole model, its gradients and AdamW states;
      gradients are all-reduced) or "fsdp" (FSDP2 ``fully_shard`` per decoder layer and at the
      root: parameters, gradients and optimizer states are sharded over the ranks, so each
      holds ~1/N of the 16 bytes per parameter of fp32 AdamW training; layers are
      all-gathered for their forward and backward). Checkpoints are the same HF folder
      either way (rank 0 writes the gathered full weights and optimizer state) and resume
      under either strategy on any number of processes.
    - ``cpu_offload`` (fsdp only): keep the parameter shards, their gradients and the
      optimizer states on the CPU (FSDP2 ``CPUOffloadPolicy``); the optimizer step runs on
      the CPU. Trades speed for GPU memory (a 7B policy on few GPUs).
    """

    strategy: Literal["ddp", "fsdp"] = "ddp"
    cpu_offload: bool = False

    def __post_init__(self) -> None:
        if self.cpu_offload and self.strategy != "fsdp":
            raise ValueError("cpu_offload: needs strategy fsdp (DDP keeps full replicas on the device)")
