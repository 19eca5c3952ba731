"""HFEngine on the tiny model: batching, seeding, stop strings, finish reasons, log-probs."""

from __future__ import annotations

import copy

import pytest
import torch

from azr.rollout.config import RolloutConfig
from azr.rollout.hf import HFEngine
from azr.rollout.types import Completion, RolloutEngine, SamplingParams
from azr.rl.logprobs import policy_logprobs

PROMPTS = ["def f(a):\n    return", "x = [1, 2, 3]\nprint(len(x)) # a longer prompt"]


@pytest.fixture
def engine(tiny_policy):
    model, tok = tiny_policy
    return HFEngine(model, tok, RolloutConfig(max_batch_size=4))


def test_shapes_order_and_protocol(engine):
    assert isinstance(engine, RolloutEngine)
    out = engine.generate(PROMPTS, SamplingParams(max_new_tokens=6, n=3, seed=0))
    assert [len(cs) for cs in out] == [3, 3]
    enc = engine.encode_prompts(PROMPTS)
    for i, cs in enumerate(out):
        for c in cs:
            assert isinstance(c, Completion)
            assert c.prompt_token_ids == tuple(enc[i])
            assert len(c.token_ids) == len(c.logprobs) <= 6
            assert all(lp <= 0.0 for lp in c.logprobs)
            if c.finish_reason == "length":
                assert len(c.token_ids) == 6


def test_same_seed_same_outputs_and_global_rng_untouched(engine):
    params = SamplingParams(max_new_tokens=8, n=2, seed=123)
    before = torch.get_rng_state()
    a = engine.generate(PROMPTS, params)
    assert torch.equal(before, torch.get_rng_state())
    b = engine.generate(PROMPTS, params)
    c = engine.generate(PROMPTS, SamplingParams(max_new_tokens=8, n=2, seed=124))
    assert a == b
    assert a != c


def test_batch_size_does_not_change_seeded_greedy(tiny_policy):
    model, tok = tiny_policy
    p = SamplingParams(temperature=0.0, max_new_tokens=5, n=1)
    one = HFEngine(model, tok, RolloutConfig(max_batch_size=1)).generate(PROMPTS, p)
    two = HFEngine(model, tok, RolloutConfig(max_batch_size=8)).generate(PROMPTS, p)
    assert [c[0].token_ids for c in one] == [c[0].token_ids for c in two]


def test_logprobs_are_those_of_the_sampling_distribution(engine):
    """Recorded log-probs == a fresh forward pass at the same temperature (left padding ok)."""
    temp = 0.7
    out = engine.generate(PROMPTS, SamplingParams(temperature=temp, max_new_tokens=8, n=2, seed=5))
    for cs in out:
        for c in cs:
            ids = torch.tensor([list(c.prompt_token_ids) + list(c.token_ids)])
            score = torch.zeros_like(ids)
            score[0, len(c.prompt_token_ids) :] = 1
            with torch.no_grad():
                lp, _ = policy_logprobs(engine.model, ids, torch.ones_like(ids), score, temperature=temp)
            ref = lp[0, len(c.prompt_token_ids) :]
            assert torch.allclose(ref, torch.tensor(c.logprobs), atol=1e-4)


def test_tiny_top_p_is_greedy(engine):
    greedy = engine.generate(PROMPTS, SamplingParams(temperature=0.0, max_new_tokens=6))
    nucleus = engine.generate(PROMPTS, SamplingParams(top_p=1e-9, max_new_tokens=6, seed=3))
    assert [g[0].token_ids for g in greedy] == [n[0].token_ids for n in nucleus]
    for n in nucleus:  # the nucleus has one token: its renormalised probability is 1
        assert all(abs(lp) < 1e-6 for lp in n[0].logprobs)


def test_stop_string_truncates_text_and_tokens(engine):
    out = engine.generate(PROMPTS, SamplingParams(max_new_tokens=24, n=3, seed=1, stop=("e",)))
    stops = [c for cs in out for c in cs if c.finish_reason == "stop"]
    assert stops, "a random tiny model emits an 'e' within 24 tokens"
    tok = engine.tokenizer
    for c in stops:
        assert c.text.endswith("e") and c.text.count("e") == 1
        assert "e" in tok.decode(list(c.token_ids))
        assert "e" not in tok.decode(list(c.token_ids[:-1]))
        assert len(c.logprobs) == len(c.token_ids)


def test_eos_finish(tiny_policy):
    """Zero final norm -> all logits equal -> greedy picks token 0, which is EOS."""
    model, tok = tiny_policy
    assert tok.eos_token_id == 0
    with torch.no_grad():
        model.model.norm.weight.zero_()
    out = HFEngine(model, tok).generate(PROMPTS, SamplingParams(temperature=0.0, max_new_tokens=5))
    for cs in out:
        assert cs[0].finish_reason == "eos"
        assert cs[0].token_ids == (0,)
        assert cs[0].text == ""


def test_finalize_cases(engine):
    tok = engine.tokenizer
    body = tok("abc</answer> tail", add_special_tokens=False)["input_ids"]
    c = engine._finalize(body + [0, 0], [-0.5] * (len(body) + 2), ("</answer>",), (1,))
    assert c.finish_reason == "stop" and c.text == "abc</answer>"
    assert tok.decode(list(c.token_ids)).startswith("abc</answer>")
    c = engine._finalize(body + [0, 0], [-0.5] * (len(body) + 2), (), (1,))
    assert c.finish_reason == "eos" and c.token_ids == tuple(body) + (0,) and c.text == "abc</answer> tail"
    c = engine._finalize(body, [-0.5] * len(body), ("zzz",), (1,))
    assert c.finish_reason == "length" and len(c.logprobs) == len(body)


def test_chat_template_and_weight_sync(tiny_policy):
    model, tok = tiny_policy
    chat = HFEngine(model, tok, RolloutConfig(chat_template=True))
    ids = chat.encode_prompts(["hi"])[0]
    assert tok.decode(ids).startswith("<|im_start|>user\nhi")
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.1)
    eng = HFEngine(copy.deepcopy(model), tok)
    p = SamplingParams(temperature=0.0, max_new_tokens=6)
    eng.sync_weights(other)
    assert eng.generate(PROMPTS, p) == HFEngine(other, tok).generate(PROMPTS, p)
    eng.sync_weights(eng.model)  # shared module: no-op


def test_bad_input_rejected(engine):
    with pytest.raises(TypeError):
        engine.generate("one string", SamplingParams())
    with pytest.raises(ValueError):
        SamplingParams(top_p=0.0)
    with pytest.raises(ValueError):
        SamplingParams(n=0)
    with pytest.raises(ValueError):
        SamplingParams(stop=("",))


def test_bf16_copy_mirrors_refreshes_and_samples_with_static_cache(tiny_policy):
    """The GPU sampling copy: bf16 weights, ties kept, refreshed after the policy changes, and
    static-cache generation from it (the path that failed under autocast on an H200)."""
    from azr.rollout.hf import Bf16Copy

    model, tok = copy.deepcopy(tiny_policy[0]), tiny_policy[1]
    shadow = Bf16Copy(model)
    m = shadow.refresh()
    assert {p.dtype for p in m.parameters()} == {torch.bfloat16}
    assert not any(p.requires_grad for p in m.parameters())
    assert m.get_input_embeddings().weight is m.get_output_embeddings().weight  # tied like the source
    assert all(b.dtype == bs.dtype for b, bs in zip(m.buffers(), model.buffers()))  # RoPE stays as it was
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    before = {n: p.clone() for n, p in m.named_parameters()}
    shadow.refresh()
    for n, p in model.named_parameters():
        assert torch.equal(dict(m.named_parameters())[n], p.to(torch.bfloat16))
        assert not torch.equal(before[n], dict(m.named_parameters())[n])
    ids = torch.tensor([tok("def f(a):")["input_ids"]])
    with torch.inference_mode():
        out = m.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, min_new_tokens=5,
                         do_sample=False, cache_implementation="static", pad_token_id=tok.pad_token_id)
    assert out.shape == (1, ids.shape[1] + 5)
