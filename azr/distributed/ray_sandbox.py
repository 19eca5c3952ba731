"""``executor.backend: ray``: sandbox workers as Ray actors, behind the ``Sandbox`` interface.

``RaySandbox(config, actors=N)`` starts N actors (anywhere in the Ray cluster); each owns a
local ``azr.executor.Sandbox`` with its own warm worker pool (``config.workers`` programs at
a time), so every isolation property of the local sandbox holds on every node. ``run(jobs)``
cuts the job list into chunks, keeps each actor busy with up to ``inflight`` chunks, and
returns one ``ExecResult`` per job in order; validation and verification take it unchanged.

Failure handling: an actor that dies (node lost, OOM, ``ray.kill``) is replaced by a fresh
one in the same slot, and the chunks it had in flight are submitted again exactly once;
a chunk whose second attempt is lost too gets status ``killed`` for each of its jobs (as the
local sandbox does for a worker that dies twice). Every result slot is filled exactly once,
so no job is lost or duplicated. Actor ``k`` runs its pool with hash seed base
``config.seed + 1000 * k``: two replicas of a job (``Job.replica``) land in processes with
different string hashing whichever actors run them.

Ray is imported lazily; connect first (``ray.init(address=...)``) or let ``RaySandbox`` call
``ray.init()`` with ``init_kwargs``.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import replace
from typing import Sequence

from azr.executor.config import ExecutorConfig
from azr.executor.sandbox import ExecResult, Job, SandboxError


class _SandboxActor:
    """Ray actor body: a local warm ``Sandbox``."""

    def __init__(self, config: dict):
        from azr.executor.sandbox import Sandbox

        self.sandbox = Sandbox(ExecutorConfig.from_dict(config))

    def run(self, jobs: list[Job]) -> list[ExecResult]:
        return self.sandbox.run(jobs)

    def protections(self) -> dict[str, bool]:
        return dict(self.sandbox.protections)

    def close(self) -> None:
        self.sandbox.close()


class RaySandbox:
    """A pool of sandbox actors with the ``Sandbox`` interface (``run``, ``run_one``, ``close``).

    Args:
        config: settings of each actor's local sandbox (``workers`` = programs per actor).
        actors: number of sandbox actors.
        chunk_size: jobs per task sent to an actor (default: ``2 * config.workers``).
        inflight: chunks queued per actor (2 keeps an actor busy while results travel).
        actor_options: Ray options of each actor, e.g. ``{"num_cpus": 4, "resources": ...}``
            (default ``{"num_cpus": config.workers}``).
        init_kwargs: passed to ``ray.init`` when Ray is not initialised yet.
    """

    def __init__(self, config: ExecutorConfig | None = None, actors: int = 2, *, chunk_size: int | None = None,
                 inflight: int = 2, actor_options: dict | None = None, init_kwargs: dict | None = None):
        import ray

        if actors < 1 or inflight < 1:
            raise ValueError("actors and inflight must be >= 1")
        if not ray.is_initialized():
            ray.init(**(init_kwargs or {}))
        self.config = config or ExecutorConfig()
        self.chunk_size = chunk_size or 2 * self.config.workers
        self.inflight = inflight
        self._options = {"num_cpus": self.config.workers, "max_restarts": 0, **(actor_options or {})}
        self._remote = ray.remote(_SandboxActor)
        self._lock = threading.Lock()
        self._closed = False
        self.actors: list = [self._start(k) for k in range(actors)]
        self._generation = [0] * actors
        self._busy = [0] * actors  # jobs in flight per actor (for monitoring and tests)
        self.stats = {"actors_replaced": 0, "jobs_resubmitted": 0, "jobs_killed": 0}
        self.protections: dict[str, bool] = ray.get(self.actors[0].protections.remote())

    def _start(self, slot: int):
        cfg = replace(self.config, seed=self.config.seed + 1000 * slot)
        return self._remote.options(**self._options).remote(cfg.to_dict())

    # -- context management --------------------------------------------------------
    def __enter__(self) -> "RaySandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        import ray

        with self._lock:
            if self._closed:
                return
            self._closed = True
        for a in self.actors:
            try:
                ray.get(a.close.remote(), timeout=30)
            except Exception:  # a dead actor has nothing left to close
                pass
            ray.kill(a)

    def in_flight(self) -> list[int]:
        """Jobs currently in flight on each actor slot."""
        return list(self._busy)

    # -- running -------------------------------------------------------------------
    def run_one(self, job: Job) -> ExecResult:
        return self.run([job])[0]

    def run(self, jobs: Sequence[Job]) -> list[ExecResult]:
        """Run ``jobs`` across the actors; one ``ExecResult`` per job, in order."""
        import ray
        from ray.exceptions import RayActorError

        jobs = list(jobs)
        for j in jobs:
            if not isinstance(j, Job):
                raise TypeError(f"expected Job, got {type(j).__name__}")
        if self._closed:
            raise SandboxError("sandbox is closed")
        with self._lock:  # one run at a time: the slots and their bookkeeping are shared
            size = max(1, min(self.chunk_size, math.ceil(len(jobs) / len(self.actors)) or 1))
            chunks = [range(s, min(s + size, len(jobs))) for s in range(0, len(jobs), size)]
            results: list[ExecResult | None] = [None] * len(jobs)
            attempts = [0] * len(chunks)
            todo = deque(range(len(chunks)))
            refs: dict = {}  # ObjectRef -> (chunk, slot, generation)
            while todo or refs:
                for slot in range(len(self.actors)):
                    while todo and sum(1 for _, s, _ in refs.values() if s == slot) < self.inflight:
                        c = todo.popleft()
                        attempts[c] += 1
                        ref = self.actors[slot].run.remote([jobs[i] for i in chunks[c]])
                        refs[ref] = (c, slot, self._generation[slot])
                        self._busy[slot] += len(chunks[c])
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    c, slot, gen = refs.pop(ref)
                    self._busy[slot] -= len(chunks[c])
                    try:
                        out = ray.get(ref)
                    except RayActorError:
                        if gen == self._generation[slot]:
                            self._replace(slot)
                        if attempts[c] < 2:
                            self.stats["jobs_resubmitted"] += len(chunks[c])
                            todo.appendleft(c)
                        else:
                            self.stats["jobs_killed"] += len(chunks[c])
                            for i in chunks[c]:
                                results[i] = ExecResult("killed", None, "ActorDied",
                                                        "the sandbox actor died twice running this job")
                        continue
                    for i, r in zip(chunks[c], out):
                        results[i] = r
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _replace(self, slot: int) -> None:
        import ray

        try:
            ray.kill(self.actors[slot])
        except Exception:
            pass
        self.actors[slot] = self._start(slot)
        self._generation[slot] += 1
        self.stats["actors_replaced"] += 1


def make_sandbox(config: ExecutorConfig, backend: str | None = None, **ray_kwargs):
    """The sandbox of ``backend`` (default ``config.backend`` when the config has that field,
    else "local"): ``"local"`` -> ``Sandbox(config)``; ``"ray"`` -> ``RaySandbox(config,
    actors=config.ray_actors (default 2), **ray_kwargs)``."""
    backend = backend or getattr(config, "backend", "local")
    if backend == "local":
        from azr.executor.sandbox import Sandbox

        return Sandbox(config)
    if backend == "ray":
        ray_kwargs.setdefault("actors", getattr(config, "ray_actors", 2))
        return RaySandbox(config, **ray_kwargs)
    raise ValueError(f"unknown executor backend {backend!r} (local | ray)")
