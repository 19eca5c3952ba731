"""Sampling an FSDP2-sharded policy (2 gloo processes): the engine all-gathers a full copy at
every ``generate`` call and samples exactly what one process samples from the same weights,
also after the shards change, and a rank with no prompts still joins the gather."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import free_port

PROMPTS = ["def f(a):\n    return", "x = [1, 2, 3]", "import math", "class A:"]


def _worker(rank: int, world: int, port: int, out_dir: str, model_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from azr.distributed import dist as d
    from azr.rl.parallel import wrap_fsdp
    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine, is_sharded
    from azr.rollout.models import load_policy
    from azr.rollout.types import SamplingParams

    info = d.init_distributed(device="cpu")
    model, tok = load_policy(ModelConfig(path=model_dir, device="cpu"))
    wrap_fsdp(model, info)
    assert is_sharded(model)
    engine = HFEngine(model, tok, RolloutConfig(max_batch_size=3))
    params = SamplingParams(max_new_tokens=8, n=2, seed=5)
    result = {"before": [[c.token_ids for c in cs] for cs in engine.generate(PROMPTS, params)]}
    with torch.no_grad():
        for p in model.parameters():
            p.to_local().mul_(1.5)  # every shard changes: the next call must see the new weights
    result["after"] = [[c.token_ids for c in cs] for cs in engine.generate(PROMPTS, params)]
    # rank 1 has no prompts: it must still take part in the all-gather of rank 0's call
    mine = PROMPTS[:1] if rank == 0 else []
    result["uneven"] = [[c.token_ids for c in cs] for cs in engine.generate(mine, params)]
    if rank == 0:
        torch.save(result, os.path.join(out_dir, "rank0.pt"))
    d.barrier()
    d.destroy()


@pytest.mark.slow  # two spawned processes: ~1 min on 2 busy cores
def test_sharded_policy_samples_like_one_process(tmp_path, tiny_model_dir, tiny_policy):
    import torch.multiprocessing as mp

    from azr.rollout.config import RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.types import SamplingParams

    mp.spawn(_worker, args=(2, free_port(), str(tmp_path), str(tiny_model_dir)), nprocs=2, join=True)
    got = torch.load(tmp_path / "rank0.pt", weights_only=False)
    model, tok = tiny_policy
    engine = HFEngine(model, tok, RolloutConfig(max_batch_size=3))
    params = SamplingParams(max_new_tokens=8, n=2, seed=5)
    assert got["before"] == [[c.token_ids for c in cs] for cs in engine.generate(PROMPTS, params)]
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    after = [[c.token_ids for c in cs] for cs in engine.generate(PROMPTS, params)]
    assert got["after"] == after and got["after"] != got["before"]
    assert got["uneven"] == after[:1]
