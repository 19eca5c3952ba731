"""Memory-planned generation: sub-batches by KV-cache tokens, finished rows dropped between
chunks, and per-row seeding that makes the tokens independent of the split."""

from __future__ import annotations

import pytest
import torch

from azr.rollout.config import RolloutConfig
from azr.rollout.decode import kv_bytes_per_token, plan_sub_batches, row_seed, row_uniform, sample_tokens
from azr.rollout.hf import HFEngine
from azr.rollout.types import SamplingParams

PROMPTS = [
    "def f(a):\n    return",
    "x = [1, 2, 3]\nprint(len(x)) # a longer prompt than the first one",
    "import math",
    "class A:\n    def g(self, b):\n        return b * 2\n",
]


def _key(out):
    return [[(c.token_ids, c.finish_reason, c.text) for c in cs] for cs in out]


def test_same_tokens_for_a_seed_whatever_the_split_chunk_and_cache(tiny_policy):
    """One sub-batch of 16 rows, decoded to the end, equals 1-3-row sub-batches under a token
    budget with finished rows dropped every 2 steps and the prompts prefilled a few columns at a
    time, and the pre-allocated (static) cache."""
    model, tok = tiny_policy
    params = SamplingParams(max_new_tokens=20, n=4, seed=7, stop=("(", "\n"))
    whole = HFEngine(model, tok, RolloutConfig(max_batch_size=64, decode_chunk=1000)).generate(PROMPTS, params)
    widest = max(len(ids) for ids in HFEngine(model, tok).encode_prompts(PROMPTS))
    budget = 2 * (widest + 20)  # two rows of the widest prompt
    engine = HFEngine(model, tok, RolloutConfig(max_batch_tokens=budget, decode_chunk=2, prefill_tokens=7))
    assert 2 <= engine.max_batch_tokens() // (widest + 20) < 16
    rows: list[int] = []
    handle = model.register_forward_pre_hook(lambda m, args, kw: rows.append(kw["input_ids"].shape[0]),
                                             with_kwargs=True)
    try:
        split = engine.generate(PROMPTS, params)
    finally:
        handle.remove()
    # no forward holds more rows than the budget allows: 2 at the widest prompt, a few more later
    shortest = min(len(ids) for ids in engine.encode_prompts(PROMPTS))
    assert rows[0] <= 2 and max(rows) <= budget // (shortest + 20)
    static = HFEngine(model, tok, RolloutConfig(max_batch_size=3, decode_chunk=5, prefill_tokens=10,
                                                cache_implementation="static"))
    assert _key(split) == _key(whole)
    assert _key(static.generate(PROMPTS, params)) == _key(whole)
    finishes = {c.finish_reason for cs in whole for c in cs}
    assert "stop" in finishes and "length" in finishes  # both kinds of rows were exercised
    for a, b in zip(whole, split):
        for ca, cb in zip(a, b):
            assert torch.allclose(torch.tensor(ca.logprobs), torch.tensor(cb.logprobs), atol=1e-5)


def test_a_row_does_not_depend_on_the_other_prompts_in_its_call(tiny_policy):
    model, tok = tiny_policy
    eng = HFEngine(model, tok, RolloutConfig(max_batch_size=8))
    p = SamplingParams(max_new_tokens=10, n=2, seed=3)
    both = eng.generate(PROMPTS[:2], p)
    first = eng.generate(PROMPTS[:1], p)
    assert _key(first) == _key(both[:1])


def test_finished_rows_stop_costing_compute(tiny_policy):
    """Rows counted in every forward: with chunk 1 the rows that hit the stop string leave the
    batch; decoded as one chunk, every row runs every step. The completions are equal."""
    model, tok = tiny_policy
    rows: list[int] = []
    handle = model.register_forward_pre_hook(lambda m, args, kw: rows.append(kw["input_ids"].shape[0]),
                                             with_kwargs=True)
    try:
        params = SamplingParams(max_new_tokens=24, n=4, seed=1, stop=("e",))
        compact = HFEngine(model, tok, RolloutConfig(decode_chunk=1)).generate(PROMPTS, params)
        compact_rows, rows[:] = sum(rows), []
        full = HFEngine(model, tok, RolloutConfig(decode_chunk=1000)).generate(PROMPTS, params)
        full_rows = sum(rows)
    finally:
        handle.remove()
    assert _key(compact) == _key(full)
    assert full_rows == 4 + 16 * 23  # prefill of the 4 prompts + 23 decode steps of all 16 rows
    assert compact_rows < 0.75 * full_rows


def test_the_samples_of_one_prompt_share_its_prefill(tiny_policy):
    """n = 4 samples of 4 prompts: the first forward (prefill) sees 4 rows, decoding sees 16."""
    model, tok = tiny_policy
    rows: list[int] = []
    handle = model.register_forward_pre_hook(lambda m, args, kw: rows.append(kw["input_ids"].shape[0]),
                                             with_kwargs=True)
    try:
        out = HFEngine(model, tok, RolloutConfig(decode_chunk=1000)).generate(
            PROMPTS, SamplingParams(max_new_tokens=3, n=4, seed=0))
    finally:
        handle.remove()
    assert rows == [4, 16, 16]
    assert len({c.token_ids for c in out[0]}) > 1  # the shared prefill still gives each sample its own draw


def test_plan_sub_batches_respects_the_token_budget_longest_first():
    widths = [50, 40, 40, 30, 10, 10, 10, 5]
    plan = plan_sub_batches(widths, 20, max_rows=4, max_tokens=150)
    assert plan[0][0] == 0 and plan[-1][1] == len(widths)
    assert all(a[1] == b[0] for a, b in zip(plan, plan[1:]))  # contiguous, every row once
    for start, end in plan:
        assert (end - start) * (widths[start] + 20) <= 150 or end - start == 1
        assert end - start <= 4
    assert plan == [(0, 2), (2, 4), (4, 8)]
    assert plan_sub_batches([500, 1], 20, max_rows=8, max_tokens=100) == [(0, 1), (1, 2)]  # too long: alone
    assert plan_sub_batches([3, 2, 1], 5, max_rows=2) == [(0, 2), (2, 3)]  # no token limit: rows only
    with pytest.raises(ValueError):
        plan_sub_batches([1, 2], 5, max_rows=2)


def test_row_uniforms_are_pure_spread_and_seed_dependent():
    seeds = [row_seed(42, j) for j in range(4)]
    assert len(set(seeds)) == 4 and seeds == [row_seed(42, j) for j in range(4)]
    assert row_seed(43, 0) != seeds[0]
    us = [row_uniform(seeds[0], t) for t in range(4000)]
    assert all(0.0 <= u < 1.0 for u in us)
    assert abs(sum(us) / len(us) - 0.5) < 0.02
    assert sum(u < 0.1 for u in us) / len(us) == pytest.approx(0.1, abs=0.02)


def test_sample_tokens_inverts_the_cdf_and_never_picks_excluded_tokens():
    scores = torch.log(torch.tensor([[0.2, 0.5, 0.3, 0.0]])).repeat(5, 1)  # token 3 excluded (-inf)
    u = torch.tensor([0.0, 0.19, 0.21, 0.69, 1.0 - 2**-53], dtype=torch.float64)
    tokens, logprobs = sample_tokens(scores, u)
    assert tokens.tolist() == [0, 0, 1, 1, 2]
    assert torch.allclose(logprobs, torch.log(torch.tensor([0.2, 0.2, 0.5, 0.5, 0.3])))
    greedy, lp = sample_tokens(scores[:1], None)
    assert greedy.tolist() == [1] and lp.item() == pytest.approx(torch.log(torch.tensor(0.5)).item())
    # frequencies follow the distribution
    u = torch.tensor([row_uniform(row_seed(0, 0), t) for t in range(3000)], dtype=torch.float64)
    counts = torch.bincount(sample_tokens(scores[:1].repeat(3000, 1), u)[0], minlength=4).float() / 3000
    assert torch.allclose(counts, torch.tensor([0.2, 0.5, 0.3, 0.0]), atol=0.04)


def test_kv_bytes_and_the_gib_budget(tiny_policy):
    from transformers import Qwen2Config

    qwen7b = Qwen2Config(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4)
    assert kv_bytes_per_token(qwen7b, torch.bfloat16) == 57_344  # 28 layers x 2 x 4 heads x 128 x 2 bytes
    model, tok = tiny_policy
    per_token = kv_bytes_per_token(model.config, torch.float32)
    eng = HFEngine(model, tok, RolloutConfig(kv_cache_gb=1.0))
    assert eng.max_batch_tokens() == 2**30 // per_token
    both = HFEngine(model, tok, RolloutConfig(kv_cache_gb=1.0, max_batch_tokens=100))
    assert both.max_batch_tokens() == 100
    with pytest.raises(ValueError):
        RolloutConfig(max_batch_tokens=-1)
    with pytest.raises(ValueError):
        RolloutConfig(decode_chunk=0)


def test_kv_bytes_match_the_cache_hf_allocates(tiny_policy):
    """The per-token K/V size the planner and the token budget use is what a static cache of
    rows x (prompt + budget) really holds."""
    from transformers import StaticCache

    from azr.rollout.decode import _cache_keyword

    model, _ = tiny_policy
    rows, width, budget = 3, 5, 7
    cache = StaticCache(config=model.config, max_cache_len=width + budget)
    ids = torch.ones((rows, width), dtype=torch.long)
    with torch.no_grad():
        model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, **{_cache_keyword(model): cache})
    held = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    assert held == rows * (width + budget) * kv_bytes_per_token(model.config, torch.float32)
