"""Scale-out: data-parallel training with torch.distributed, and Ray backends.

Import the submodules explicitly (this package imports neither torch nor ray):

- ``azr.distributed.dist``: process-group set-up from torchrun's environment, rank helpers,
  sharding, gathers, global advantage statistics, rank-0-only writing.
- ``azr.distributed.update``: DDP / FSDP2 wrapping and the data-parallel update step whose
  gradient equals the single-process gradient of the global batch.
- ``azr.distributed.sharded``: engine and sandbox wrappers that split work across ranks and
  gather the results, and the data-parallel self-play policy update.
- ``azr.distributed.ray_sandbox``: ``RaySandbox`` (sandbox workers as Ray actors).
- ``azr.distributed.ray_rollout``: ``RayEngine`` (rollout engines as Ray actors).
- ``azr.distributed.launch``: ``python -m azr.distributed.launch --nproc N -- train ...``.
"""
