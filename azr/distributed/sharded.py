"""Data-parallel self-play: split generation and execution across ranks, update on shards.

The data-parallel trainer keeps every rank's *control state* identical (buffers, prompts,
rewards, metrics), and splits only the expensive work:

- ``ShardedEngine(engine)``: each rank samples its contiguous block of the prompts (rank r
  with seed ``seed + r``), and every rank receives all completions in prompt order. So the
  proposer prompts, validation, buffer growth and solver batches that follow are the same
  computation on every rank.
- ``ShardedSandbox(sandbox)``: each rank runs its block of the jobs; all ranks receive all
  results. Besides dividing the work this keeps the ranks consistent: a program whose
  outcome depends on timing (a timeout under load) gets one verdict, shared by every rank.

The policy update needs no wrapper: ``azr.selfplay.update.policy_update`` trains each rank on
its block of the step's rollouts with the RL core's ``update_step`` (gradient of the global
batch). On a single process both wrappers reduce to the inner objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from azr.distributed.dist import DistInfo, all_gather_objects, current, shard


class ShardedEngine:
    """A ``RolloutEngine`` that splits ``generate`` across the data-parallel ranks."""

    def __init__(self, engine, info: DistInfo | None = None):
        self.engine = engine
        self.info = info or current()

    def generate(self, prompts: Sequence[str], params):
        if isinstance(prompts, str):
            raise TypeError("generate() takes a sequence of prompts, not a single string")
        mine = shard(list(prompts), self.info)
        if params.seed is not None and self.info.rank:
            params = replace(params, seed=params.seed + self.info.rank)
        # every rank calls the engine, also with no prompts: sampling an FSDP2-sharded policy
        # all-gathers its weights (a collective)
        out = self.engine.generate(mine, params)
        return all_gather_objects(out, self.info)

    def sync_weights(self, source) -> None:
        self.engine.sync_weights(source)

    def __getattr__(self, name):  # tokenizer, encode_prompts, config ... of the inner engine
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)


class ShardedSandbox:
    """A sandbox whose ``run`` splits the jobs across ranks and gathers every result."""

    def __init__(self, sandbox, info: DistInfo | None = None):
        self.sandbox = sandbox
        self.info = info or current()

    def run(self, jobs):
        jobs = list(jobs)
        mine = shard(jobs, self.info)
        out = self.sandbox.run(mine) if mine else []
        return all_gather_objects(out, self.info)

    def run_one(self, job):
        return self.run([job])[0]

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> "ShardedSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getattr__(self, name):  # config, protections ...
        if name == "sandbox":
            raise AttributeError(name)
        return getattr(self.sandbox, name)
