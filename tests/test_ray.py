"""Ray backends on a local 2-CPU Ray cluster (one start for the module).

- ``RaySandbox`` returns the local ``Sandbox``'s results for a fixed job list, and survives an
  actor killed mid-run (replaced; its in-flight jobs run once more; none lost or duplicated).
- ``RayEngine`` after a weight push samples greedily exactly what the local engine samples.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from azr.executor import ExecutorConfig, Job, Sandbox  # noqa: E402

REPO = str(Path(__file__).resolve().parents[1])
CFG = ExecutorConfig(workers=1, timeout_s=2.0)


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2,
             runtime_env={"env_vars": {"PYTHONPATH": REPO}}, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _jobs() -> list[Job]:
    jobs = [Job(f"def f(x):\n    return [x * i for i in range({k})]", f"f({k})") for k in range(12)]
    jobs += [
        Job("x = 1", "1 / 0"),
        Job("raise ValueError('nope')"),
        Job("def f(s):\n    return s[::-1]", "f('hello')", replica=0),
        Job("def f(s):\n    return s[::-1]", "f('hello')", replica=1),
        Job("while True:\n    pass", None, timeout_s=0.5),
        Job("import math", "math.factorial(20)"),
    ]
    return jobs


def _key(r):
    return (r.status, r.value, r.error_type)


def test_ray_sandbox_matches_local(ray_cluster):
    from azr.distributed.ray_sandbox import RaySandbox

    jobs = _jobs()
    with Sandbox(CFG) as local:
        want = [_key(r) for r in local.run(jobs)]
    with RaySandbox(CFG, actors=2, chunk_size=3, actor_options={"num_cpus": 0.5}) as rs:
        got = [_key(r) for r in rs.run(jobs)]
        again = [_key(r) for r in rs.run(jobs[:5])]
        assert rs.stats["actors_replaced"] == 0
    assert got == want
    assert again == want[:5]
    assert want[0][0] == "ok" and want[12][0] == "error" and want[12][2] == "ZeroDivisionError"
    assert want[16][0] == "timeout"


def test_killed_actor_is_replaced_without_losing_or_duplicating(ray_cluster):
    from azr.distributed.ray_sandbox import RaySandbox

    # each job sleeps, then returns its own index: a lost job leaves a hole, a duplicate a mismatch
    jobs = [Job("import time\ntime.sleep(0.4)", f"{i}") for i in range(16)]
    with RaySandbox(CFG, actors=2, chunk_size=2, inflight=1, actor_options={"num_cpus": 0.5}) as rs:
        victim = rs.actors[0]
        killed = threading.Event()

        def kill_when_busy():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and rs.in_flight()[0] == 0:
                time.sleep(0.01)
            ray.kill(victim)
            killed.set()

        t = threading.Thread(target=kill_when_busy)
        t.start()
        results = rs.run(jobs)
        t.join()
        assert killed.is_set()
        assert [r.status for r in results] == ["ok"] * len(jobs)
        assert [r.value for r in results] == [repr(i) for i in range(len(jobs))]
        assert rs.stats["actors_replaced"] == 1
        assert rs.stats["jobs_resubmitted"] == 2  # the killed actor's one in-flight chunk, once
        assert rs.stats["jobs_killed"] == 0
        assert rs.actors[0] is not victim
        # the replacement serves later runs
        assert [r.value for r in rs.run(jobs[:4])] == ["0", "1", "2", "3"]


def test_ray_engine_after_weight_push_equals_local(ray_cluster, tiny_model_dir, tiny_policy):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the actor: same reduction order, same floats
    try:
        _check_engine(tiny_model_dir, tiny_policy)
    finally:
        torch.set_num_threads(threads)


def _check_engine(tiny_model_dir, tiny_policy):
    import torch

    from azr.distributed.ray_rollout import RayEngine
    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.types import SamplingParams

    model, tok = tiny_policy
    rcfg = RolloutConfig(max_new_tokens=12)
    local = HFEngine(model, tok, rcfg)
    prompts = ["def f(a):", "<answer>", "import os\n", "x = [1, 2"]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with RayEngine(ModelConfig(path=str(tiny_model_dir), device="cpu"), rcfg, engines=1,
                   actor_options={"num_cpus": 0.5}, threads=1) as remote:
        before = remote.generate(prompts, greedy)
        assert [c[0].token_ids for c in before] == [c[0].token_ids for c in local.generate(prompts, greedy)]
        with torch.no_grad():  # a stand-in for an optimiser step: move every weight
            g = torch.Generator().manual_seed(0)
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.5)
        want = local.generate(prompts, greedy)
        assert [c[0].token_ids for c in want] != [c[0].token_ids for c in before]
        remote.sync_weights(model)
        got = remote.generate(prompts, greedy)
        assert [[(c.token_ids, c.text, c.finish_reason) for c in cs] for cs in got] == \
               [[(c.token_ids, c.text, c.finish_reason) for c in cs] for cs in want]
        sampled = SamplingParams(temperature=1.0, max_new_tokens=8, n=2, seed=7)
        assert [c.token_ids for cs in remote.generate(prompts, sampled) for c in cs] == \
               [c.token_ids for cs in local.generate(prompts, sampled) for c in cs]
