"""The update step on the tiny model: accumulation invariance, masks, every parameter moves."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from azr.rl.batch import PolicyBatch, make_policy_batch
from azr.rl.config import LossConfig, OptimConfig
from azr.rl.optim import build_optimizer, build_scheduler, lr_factor
from azr.rl.update import recompute_logprobs, split_micro_batches, update_step


def _batch(model, n=8, seed=0, sample_mask=None):
    g = torch.Generator().manual_seed(seed)
    prompts = [torch.randint(1, 2000, (int(k),), generator=g).tolist() for k in torch.randint(3, 9, (n,), generator=g)]
    resps = [torch.randint(1, 2000, (int(k),), generator=g).tolist() for k in torch.randint(1, 10, (n,), generator=g)]
    b = make_policy_batch(prompts, resps, 0, advantages=torch.randn(n, generator=g), sample_mask=sample_mask)
    old, _ = recompute_logprobs(model, b)
    # perturb old log-probs so that ratios differ from 1 and clipping is exercised
    old = old + 0.3 * torch.randn(old.shape, generator=g) * b.response_mask
    return dataclasses.replace(b, old_logprobs=old)


def _sgd_delta(model, batch, budget, loss_cfg=LossConfig(), clip=None):
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    res = update_step(model, opt, None, batch, loss_cfg, OptimConfig(micro_batch_tokens=budget, grad_clip=clip))
    delta = {n: p.detach() - before[n] for n, p in model.named_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(before[n])
    return delta, res


def test_split_micro_batches():
    groups = split_micro_batches([5, 3, 8, 2], 10)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    assert groups[0] == [2]  # 8 alone (2 x 8 > 10)
    assert all(len(g) * max([5, 3, 8, 2][i] for i in g) <= 10 or len(g) == 1 for g in groups)
    assert split_micro_batches([50], 10) == [[0]]


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-sum-norm"])
def test_accumulation_invariance(tiny_policy, agg):
    """One micro-batch of 8 gives the same update as 8 micro-batches of 1."""
    model, _ = tiny_policy
    batch = _batch(model)
    cfg = LossConfig(agg=agg, entropy_coef=1e-3)
    d_full, r_full = _sgd_delta(model, batch, budget=10**6, loss_cfg=cfg)
    d_one, r_one = _sgd_delta(model, batch, budget=1, loss_cfg=cfg)
    assert r_full.metrics["loss/micro_batches"] == 1 and r_one.metrics["loss/micro_batches"] == 8
    for n in d_full:
        assert torch.allclose(d_full[n], d_one[n], atol=1e-6, rtol=1e-4), n
    for k in ("loss/policy", "loss/clipfrac_high", "loss/clipfrac_low", "loss/approx_kl", "loss/grad_norm"):
        assert r_full.metrics[k] == pytest.approx(r_one.metrics[k], rel=1e-4, abs=1e-6), k
    assert torch.allclose(r_full.entropy, r_one.entropy, atol=1e-5)


def test_masked_samples_contribute_no_gradient(tiny_policy):
    model, _ = tiny_policy
    batch = _batch(model)
    mask = torch.ones(8)
    mask[[1, 4]] = 0
    masked = dataclasses.replace(batch, sample_mask=mask)
    keep = [0, 2, 3, 5, 6, 7]
    d_masked, r_masked = _sgd_delta(model, masked, budget=40)
    d_kept, _ = _sgd_delta(model, batch.select(keep), budget=40)
    for n in d_masked:
        assert torch.allclose(d_masked[n], d_kept[n], atol=1e-6, rtol=1e-4), n
    assert (r_masked.entropy[[1, 4]] > 0).all()  # still forwarded for entropy logging


def test_all_masked_is_skipped(tiny_policy):
    model, _ = tiny_policy
    batch = _batch(model, sample_mask=torch.zeros(8))
    delta, res = _sgd_delta(model, batch, budget=100)
    assert res.metrics["loss/skipped"] == 1.0 and res.metrics["loss/grad_norm"] == 0.0
    assert all((d == 0).all() for d in delta.values())
    assert (res.entropy > 0).all()


def test_every_trainable_parameter_changes_after_one_update(tiny_policy):
    model, _ = tiny_policy
    batch = _batch(model)
    cfg = OptimConfig(lr=1e-3)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    res = update_step(model, opt, sched, batch, LossConfig(), cfg)
    unchanged = [n for n, p in model.named_parameters() if p.requires_grad and torch.equal(p, before[n])]
    assert unchanged == []
    assert res.metrics["loss/grad_norm"] > 0 and res.metrics["loss/skipped"] == 0
    assert res.entropy.shape == (8,) and res.logprobs.shape == batch.input_ids.shape


def test_grad_clipping_reports_unclipped_norm(tiny_policy):
    model, _ = tiny_policy
    batch = _batch(model)
    d_free, r_free = _sgd_delta(model, batch, budget=1000)
    d_clip, r_clip = _sgd_delta(model, batch, budget=1000, clip=1e-3)
    assert r_clip.metrics["loss/grad_norm"] == pytest.approx(r_free.metrics["loss/grad_norm"], rel=1e-5)
    total = torch.sqrt(sum((d**2).sum() for d in d_clip.values()))
    assert total.item() == pytest.approx(1e-3, rel=1e-3)


def test_positive_advantage_raises_logprob(tiny_policy):
    model, _ = tiny_policy
    b = make_policy_batch([[5, 6, 7]], [[8, 9, 10]], 0, advantages=[1.0])
    cfg = OptimConfig(lr=1e-2)
    opt = build_optimizer(model, cfg)
    first, _ = recompute_logprobs(model, b)
    for _ in range(3):
        old, _ = recompute_logprobs(model, b)
        update_step(model, opt, None, dataclasses.replace(b, old_logprobs=old), LossConfig(), cfg)
    after, _ = recompute_logprobs(model, b)
    assert after.sum() > first.sum()


def test_lr_schedules():
    assert lr_factor(0, OptimConfig()) == 1.0
    w = OptimConfig(schedule="warmup", warmup_steps=4)
    assert [lr_factor(s, w) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    c = OptimConfig(schedule="cosine", warmup_steps=2, total_steps=12, min_lr_ratio=0.1)
    assert lr_factor(2, c) == pytest.approx(1.0)
    assert lr_factor(7, c) == pytest.approx(0.55)
    assert lr_factor(12, c) == pytest.approx(0.1) and lr_factor(50, c) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        OptimConfig(schedule="cosine")


def test_batch_validation():
    with pytest.raises(ValueError):
        make_policy_batch([[1, 2]], [[3]], 0, advantages=[1.0, 2.0])
    with pytest.raises(ValueError):
        make_policy_batch([[]], [[3]], 0, advantages=[1.0])
    with pytest.raises(ValueError):
        make_policy_batch([[1]], [[3, 4]], 0, advantages=[1.0], old_logprobs=[[0.1]])
    b = make_policy_batch([[1, 2], [3]], [[4], [5, 6]], 0, advantages=[1.0, -1.0], old_logprobs=[[-1.0], [-2.0, -3.0]])
    assert b.input_ids.tolist() == [[1, 2, 4], [3, 5, 6]]
    assert b.response_mask.tolist() == [[0, 0, 1], [0, 1, 1]]
    assert b.advantages.tolist() == [[0, 0, 1], [0, -1, -1]]
    assert b.old_logprobs.tolist() == [[0, 0, -1], [0, -2, -3]]
    with pytest.raises(ValueError):
        PolicyBatch(b.input_ids, b.attention_mask, b.response_mask, b.old_logprobs, b.advantages, torch.ones(3))
