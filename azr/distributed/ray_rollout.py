"""Rollout engines as Ray actors, with weights pushed from the trainer after each update.

``RayEngine(model_cfg, rollout_cfg, engines=N)`` starts N actors; each loads the policy
(``azr.rollout.models.load_policy``) on its own device and wraps it in an ``HFEngine``.
``generate(prompts, params)`` has the ``RolloutEngine`` signature: the prompts are cut into
N contiguous shards, one per actor, and the completions come back in prompt order. With one
actor and a seed, the outputs equal a local ``HFEngine``'s with the same weights and seed
(same device type); with several actors, shard k samples with seed ``seed + k`` (greedy
decoding is identical either way).

``sync_weights(module | state_dict)`` copies the trainer's weights to every actor: the state
dict is moved to the CPU, put in the Ray object store once, and each actor loads it
(``HFEngine.sync_weights``). Call it after every optimiser step (``update_step``), before
the next ``generate``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

from azr.rollout.config import ModelConfig, RolloutConfig
from azr.rollout.types import Completion, SamplingParams


class _EngineActor:
    """Ray actor body: an ``HFEngine`` over its own copy of the policy."""

    def __init__(self, model_cfg: ModelConfig, rollout_cfg: RolloutConfig, threads: int | None):
        import torch

        from azr.rollout.hf import HFEngine
        from azr.rollout.models import load_policy

        if threads:
            torch.set_num_threads(threads)
        model, tokenizer = load_policy(model_cfg)
        self.engine = HFEngine(model, tokenizer, rollout_cfg)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        return self.engine.generate(prompts, params)

    def sync_weights(self, state: dict) -> int:
        self.engine.sync_weights(state)
        return len(state)


class RayEngine:
    """A ``RolloutEngine`` whose sampling runs in Ray actors (see the module doc).

    Args:
        model_cfg: what each actor loads (``path`` must be readable from every node).
        rollout_cfg: batching, cache and chat-template defaults (as for ``HFEngine``).
        engines: number of actors.
        actor_options: Ray options per actor, e.g. ``{"num_gpus": 1}`` (default ``{"num_cpus": 1}``).
        threads: torch intra-op threads per actor on CPU (None: torch's default).
        init_kwargs: passed to ``ray.init`` when Ray is not initialised yet.
    """

    def __init__(self, model_cfg: ModelConfig, rollout_cfg: RolloutConfig | None = None, engines: int = 1, *,
                 actor_options: dict | None = None, threads: int | None = None, init_kwargs: dict | None = None):
        import ray

        if engines < 1:
            raise ValueError("engines must be >= 1")
        if not ray.is_initialized():
            ray.init(**(init_kwargs or {}))
        options = {"num_cpus": 1, **(actor_options or {})}
        remote = ray.remote(_EngineActor).options(**options)
        self.actors = [remote.remote(model_cfg, rollout_cfg or RolloutConfig(), threads) for _ in range(engines)]

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt (in order), ``params.n`` completions."""
        import ray

        from azr.distributed.dist import shard_range

        if isinstance(prompts, str):
            raise TypeError("generate() takes a sequence of prompts, not a single string")
        prompts = list(prompts)
        n = len(self.actors)
        refs = []
        for k, actor in enumerate(self.actors):
            part = [prompts[i] for i in shard_range(len(prompts), k, n)]
            if part:
                p = params if params.seed is None or k == 0 else replace(params, seed=params.seed + k)
                refs.append(actor.generate.remote(part, p))
        return [c for part in ray.get(refs) for c in part]

    def sync_weights(self, source) -> None:
        """Push the weights of a module or state dict to every actor (one object-store copy)."""
        import ray

        state = source.state_dict() if hasattr(source, "state_dict") else source
        if not isinstance(state, Mapping):
            raise TypeError("sync_weights takes an nn.Module or a state dict")
        cpu = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().cpu() for k, v in state.items()}
        ref = ray.put(cpu)
        ray.get([a.sync_weights.remote(ref) for a in self.actors])

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        self.actors = []

    def __enter__(self) -> "RayEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
