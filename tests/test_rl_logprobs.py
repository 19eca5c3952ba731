"""Chunked log-prob/entropy == the naive computation (values and gradients)."""

from __future__ import annotations

import pytest
import torch

from azr.rl.logprobs import (
    chunked_logprobs_entropy,
    naive_logprobs_entropy,
    policy_logprobs,
)


def _inputs(dtype, n=37, h=16, v=101, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    hid = torch.randn(n, h, generator=g).to(dtype).requires_grad_()
    w = (torch.randn(v, h, generator=g) * 0.5).to(dtype).requires_grad_()
    b = torch.randn(v, generator=g).to(dtype).requires_grad_() if bias else None
    y = torch.randint(0, v, (n,), generator=g)
    return hid, w, b, y


def _grads(fn, hid, w, b, y, g_lp, g_ent, **kw):
    lp, ent = fn(hid, w, y, bias=b, **kw)
    params = [t for t in (hid, w, b) if t is not None]
    grads = torch.autograd.grad((lp * g_lp).sum() + (ent * g_ent).sum(), params)
    return lp.detach(), ent.detach(), grads


@pytest.mark.parametrize("chunk", [1, 8, 37, 1000])
@pytest.mark.parametrize("bias", [True, False])
def test_chunked_matches_naive_fp32(chunk, bias):
    hid, w, b, y = _inputs(torch.float32, bias=bias)
    g_lp, g_ent = torch.randn(37), torch.randn(37)
    lp1, e1, g1 = _grads(chunked_logprobs_entropy, hid, w, b, y, g_lp, g_ent, scale=0.7, chunk_tokens=chunk)
    lp2, e2, g2 = _grads(naive_logprobs_entropy, hid, w, b, y, g_lp, g_ent, scale=0.7)
    assert torch.allclose(lp1, lp2, atol=1e-5) and torch.allclose(e1, e2, atol=1e-5)
    for a, r in zip(g1, g2):
        assert torch.allclose(a, r, atol=1e-5, rtol=1e-4)


def test_gradcheck_fp64():
    hid, w, b, y = _inputs(torch.float64, n=5, h=3, v=7)

    def f(h_, w_, b_):
        return chunked_logprobs_entropy(h_, w_, y, bias=b_, scale=1.3, chunk_tokens=2)

    assert torch.autograd.gradcheck(f, (hid, w, b))


def test_only_logprob_or_only_entropy_grad():
    hid, w, b, y = _inputs(torch.float32)
    for use in ("lp", "ent"):
        lp, ent = chunked_logprobs_entropy(hid, w, y, bias=b, chunk_tokens=5)
        lp2, ent2 = naive_logprobs_entropy(hid, w, y, bias=b)
        out1 = lp.sum() if use == "lp" else ent.sum()
        out2 = lp2.sum() if use == "lp" else ent2.sum()
        g1 = torch.autograd.grad(out1, (hid, w))
        g2 = torch.autograd.grad(out2, (hid, w))
        for a, r in zip(g1, g2):
            assert torch.allclose(a, r, atol=1e-5)


def test_bf16_within_tolerance_of_fp32_reference():
    hid, w, b, y = _inputs(torch.float32, bias=False)
    g_lp, g_ent = torch.randn(37), torch.randn(37)
    ref_lp, ref_e, ref_g = _grads(naive_logprobs_entropy, hid, w, None, y, g_lp, g_ent)
    hb = hid.detach().bfloat16().requires_grad_()
    wb = w.detach().bfloat16().requires_grad_()
    lp, e, g = _grads(chunked_logprobs_entropy, hb, wb, None, y, g_lp, g_ent, chunk_tokens=8)
    assert lp.dtype == torch.float32 and g[0].dtype == torch.bfloat16
    assert torch.allclose(lp, ref_lp, atol=0.1) and torch.allclose(e, ref_e, atol=0.1)
    for a, r in zip(g, ref_g):
        assert torch.allclose(a.float(), r, atol=0.05, rtol=0.05)


def test_entropy_is_full_distribution_entropy():
    hid, w, b, y = _inputs(torch.float32)
    _, ent = chunked_logprobs_entropy(hid, w, y, bias=b)
    p = torch.softmax(hid @ w.t() + b, -1)
    assert torch.allclose(ent, -(p * p.log()).sum(-1), atol=1e-5)
    assert (ent > 0).all() and (ent <= torch.log(torch.tensor(101.0)) + 1e-5).all()


def test_bad_shapes_rejected():
    hid, w, b, y = _inputs(torch.float32)
    with pytest.raises(ValueError):
        chunked_logprobs_entropy(hid, w, y[:-1])
    with pytest.raises(ValueError):
        chunked_logprobs_entropy(hid[:, :3], w, y)
    with pytest.raises(ValueError):
        chunked_logprobs_entropy(hid, w, y, chunk_tokens=0)


def _naive_model_logprobs(model, ids, attn, temperature):
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attn, position_ids=pos).logits.float() / temperature
    logp = torch.log_softmax(logits[:, :-1], -1)
    lp = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
    ent = -(logp.exp() * logp).sum(-1)
    return lp, ent


@pytest.mark.parametrize("tied", [True, False])
def test_policy_logprobs_matches_hf_logits(tiny_model_dir, tmp_path, tied):
    from transformers import AutoModelForCausalLM

    from azr.rollout.models import load_tokenizer
    from azr.rollout.tiny import build_tiny_model

    path = tiny_model_dir
    if not tied:
        path = build_tiny_model(tmp_path / "untied", load_tokenizer(str(tiny_model_dir)), tie_word_embeddings=False)
    model = AutoModelForCausalLM.from_pretrained(str(path))
    assert (model.lm_head.weight is model.model.embed_tokens.weight) == tied
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 2000, (3, 12), generator=g)
    attn = torch.ones_like(ids)
    attn[1, 9:] = 0  # right padding
    score = attn.clone()
    score[:, :4] = 0  # a "prompt" of 4 tokens
    lp, ent = policy_logprobs(model, ids, attn, score, temperature=0.8, chunk_tokens=5)
    (lp.sum() + 0.3 * ent.sum()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    rlp, rent = _naive_model_logprobs(model, ids, attn, 0.8)
    m = score[:, 1:].bool()
    assert torch.allclose(lp[:, 1:][m], rlp[m], atol=1e-5)
    assert torch.allclose(ent[:, 1:][m], rent[m], atol=1e-5)
    assert (lp[:, 1:][~m] == 0).all() and (lp[:, 0] == 0).all()
    (rlp[m].sum() + 0.3 * rent[m].sum()).backward()
    for n, p in model.named_parameters():
        assert torch.allclose(grads[n], p.grad, atol=1e-5, rtol=1e-4), n


def test_autocast_bf16_matches_naive_under_autocast():
    """Under bf16 autocast the head matmuls run in bf16 in forward and backward; grads stay fp32."""
    hid, w, _, y = _inputs(torch.float32, bias=False)
    g_lp, g_ent = torch.randn(37), torch.randn(37)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lp1, e1, g1 = _grads(chunked_logprobs_entropy, hid, w, None, y, g_lp, g_ent, chunk_tokens=8)
        lp2, e2, g2 = _grads(naive_logprobs_entropy, hid, w, None, y, g_lp, g_ent)
    assert g1[0].dtype == torch.float32 and g1[1].dtype == torch.float32
    assert torch.allclose(lp1, lp2, atol=1e-3) and torch.allclose(e1, e2, atol=1e-3)
    for a, r in zip(g1, g2):
        assert torch.allclose(a, r, atol=0.02, rtol=0.02)
