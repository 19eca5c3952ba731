"""Scale-out: data-parallel training with torch.distributed, and Ray backends.

Import the submodules explicitly (this package imports neither torch nor ray):

- ``azr.distributed.dist``: process-group set-up from torchrun's environment, rank helpers,
  sharding, gathers and reductions (no-ops without a process group), rank-0-only writing.
- ``azr.distributed.sharded``: engine and sandbox wrappers that split work across ranks and
  gather the results.

This package sits below the RL core (it imports nothing of ``azr.rl`` or above): the one
update step (``azr.rl.update``), DDP / FSDP2 wrapping and global advantages
(``azr.rl.parallel``) use its collectives.
- ``azr.distributed.ray_sandbox``: ``RaySandbox`` (sandbox workers as Ray actors).
- ``azr.distributed.ray_rollout``: ``RayEngine`` (rollout engines as Ray actors).
- ``azr.distributed.launch``: ``python -m azr.distributed.launch --nproc N -- train ...``.
- ``azr.distributed.config``: the ``distributed`` config section (``strategy: ddp | fsdp``,
  ``cpu_offload``), applied by ``azr.rl.parallel.wrap_policy`` in the run loop.
"""
