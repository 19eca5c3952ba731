"""GPU-only checks (``-m gpu``; deselected by default, skipped without CUDA).

Run on a lent GPU: ``python -m pytest -m gpu tests/test_gpu.py``. They cover what the CPU
suite cannot: sampling an fp32 policy through its bf16 copy with the static cache (which
crashed under bf16 autocast on transformers 5.17), the copy following optimiser steps, and
seeded sampling on CUDA.
"""

from __future__ import annotations

import copy

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture
def cuda_engine(tiny_policy):
    from azr.rollout.config import RolloutConfig
    from azr.rollout.hf import HFEngine

    model = copy.deepcopy(tiny_policy[0]).to("cuda").float()
    return HFEngine(model, tiny_policy[1], RolloutConfig(max_batch_size=8))


def test_fp32_policy_samples_through_bf16_copy_with_static_cache(cuda_engine):
    from azr.rollout.types import SamplingParams

    params = SamplingParams(max_new_tokens=12, n=3, seed=7)
    out = cuda_engine.generate(["def f(a):", "x = [1, 2]"], params)
    assert [len(cs) for cs in out] == [3, 3]
    assert cuda_engine._bf16 is not None
    assert {p.dtype for p in cuda_engine._bf16.module.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in cuda_engine.model.parameters()} == {torch.float32}  # the policy is untouched
    for cs in out:
        for c in cs:
            assert len(c.token_ids) == len(c.logprobs) <= 12
            assert all(lp <= 0.0 and lp == lp for lp in c.logprobs)
    again = cuda_engine.generate(["def f(a):", "x = [1, 2]"], params)
    assert [[c.token_ids for c in cs] for cs in out] == [[c.token_ids for c in cs] for cs in again]


def test_bf16_copy_follows_optimiser_steps(cuda_engine):
    from azr.rollout.types import SamplingParams

    greedy = SamplingParams(max_new_tokens=8, n=1, temperature=0.0)
    cuda_engine.generate(["def f(a):"], greedy)
    model = cuda_engine.model
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    ids = torch.tensor([cuda_engine.encode_prompts(["def f(a): return a"])[0]], device="cuda")
    for _ in range(3):
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    cuda_engine.generate(["def f(a):"], greedy)
    shadow = dict(cuda_engine._bf16.module.named_parameters())
    for n, p in model.named_parameters():
        assert torch.equal(shadow[n], p.detach().to(torch.bfloat16)), n
