"""Off-policy exploration mixing: assignment of rollouts and truncated importance weights."""

from __future__ import annotations

import math

import pytest
import torch

from azr.selfplay.offpolicy import explore_count, importance_weights


def test_explore_count():
    assert [explore_count(8, f) for f in (0.0, 0.25, 0.5, 0.9, 1.0)] == [0, 2, 4, 7, 8]
    assert explore_count(2, 0.9) == 1  # a group keeps an on-policy sample unless fraction == 1
    assert explore_count(1, 0.5) == 0 and explore_count(3, 1.0) == 3
    with pytest.raises(ValueError):
        explore_count(4, 1.5)


def test_token_weights_match_hand_computation_and_are_truncated():
    old = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -1.0, 0.0]])
    beh = torch.tensor([[-1.5, -1.0, -3.0], [-3.0, -3.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    off = torch.tensor([True, False])
    w, m = importance_weights(old, beh, mask, off, cap=2.0, level="token")
    expected0 = [min(math.exp(0.5), 2.0), math.exp(-1.0), min(math.exp(2.5), 2.0)]
    assert w[0].tolist() == pytest.approx(expected0)
    assert w[1].tolist() == [1.0, 1.0, 0.0]  # on-policy: weight 1, padding 0
    assert m["explore/truncated_frac"] == pytest.approx(1 / 3)
    assert m["explore/weight_mean"] == pytest.approx(sum(expected0) / 3)
    assert 0 < m["explore/ess"] <= 1 and m["explore/fraction"] == 0.5
    assert not w.requires_grad


def test_sequence_weights_use_the_product_of_ratios():
    old = torch.tensor([[-1.0, -1.0, -9.0]], requires_grad=True)
    beh = torch.tensor([[-1.2, -1.1, 0.0]])
    mask = torch.tensor([[1, 1, 0]])
    w, _ = importance_weights(old, beh, mask, torch.tensor([True]), cap=10.0, level="sequence")
    assert w[0, :2].tolist() == pytest.approx([math.exp(0.3)] * 2) and w[0, 2] == 0
    w_inf, _ = importance_weights(old, beh - 50, mask, torch.tensor([True]), cap=float("inf"), level="sequence")
    assert math.isfinite(float(w_inf.max()))


def test_on_policy_samples_give_unit_weights_and_bad_args_raise():
    lp = torch.randn(4, 5)
    w, m = importance_weights(lp, lp, torch.ones(4, 5), torch.ones(4, dtype=torch.bool))
    assert torch.allclose(w, torch.ones(4, 5)) and m["explore/ess"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cap"):
        importance_weights(lp, lp, torch.ones(4, 5), torch.ones(4, dtype=torch.bool), cap=0.5)
    with pytest.raises(ValueError, match="level"):
        importance_weights(lp, lp, torch.ones(4, 5), torch.ones(4, dtype=torch.bool), level="step")
    with pytest.raises(ValueError, match="shape"):
        importance_weights(lp, lp[:, :3], torch.ones(4, 5), torch.ones(4, dtype=torch.bool))


def test_rlvr_batch_weights_only_the_off_policy_samples(tiny_policy):
    """RLVR's batch: behaviour samples get pi_old as PPO denominator and A * min(pi_old/mu, cap)."""
    from azr.baselines.config import BaselineConfig, ControlsConfig
    from azr.rl.config import AdvantageConfig
    from azr.rl.update import recompute_logprobs
    from azr.rollout.types import Completion
    from azr.selfplay.rollouts import Rollout
    from azr.selfplay.update import build_batch
    from azr.tasks import Role, TaskType

    model, tok = tiny_policy
    prompt = tuple(tok("def f(a):")["input_ids"])
    g = torch.Generator().manual_seed(0)
    rollouts = []
    for j, (reward, explore) in enumerate([(1.0, False), (0.0, False), (1.0, True), (0.0, True)]):
        ids = tuple(torch.randint(0, len(tok), (5,), generator=g).tolist())
        behaviour = tuple((-torch.rand(5, generator=g) * 16).tolist())  # mu's log-probs, as reported by a sampler
        c = Completion(ids, "", behaviour, "length", prompt)
        rollouts.append(Rollout(TaskType.DEDUCTION, Role.SOLVE, "p", c, reward,
                                explore=explore, off_policy=explore))
    cfg = BaselineConfig(advantage=AdvantageConfig(estimator="grpo"),
                         controls=ControlsConfig(explore_fraction=0.5, is_cap=3.0))
    one_group = torch.tensor([0, 0, 0, 0])
    batch, seq_adv, metrics = build_batch(rollouts, cfg, tok.pad_token_id, model, groups=one_group)
    plain, _, _ = build_batch([
        Rollout(r.task_type, r.role, r.prompt, r.completion, r.reward) for r in rollouts
    ], BaselineConfig(advantage=AdvantageConfig(estimator="grpo")), tok.pad_token_id, model, groups=one_group)
    old, _ = recompute_logprobs(model, batch, autocast="none")
    m = batch.response_mask > 0
    for b in (2, 3):
        w = torch.exp(old[b][m[b]] - plain.old_logprobs[b][m[b]]).clamp(max=3.0)
        assert torch.allclose(batch.advantages[b][m[b]], plain.advantages[b][m[b]] * w, atol=1e-5)
        assert torch.allclose(batch.old_logprobs[b][m[b]], old[b][m[b]], atol=1e-5)
    for b in (0, 1):  # on-policy rows untouched
        assert torch.equal(batch.advantages[b], plain.advantages[b])
        assert torch.equal(batch.old_logprobs[b], plain.old_logprobs[b])
    assert metrics["explore/fraction"] == 0.5 and 0 < metrics["explore/truncated_frac"] < 1


def test_explore_flags_mark_the_last_of_each_group():
    from azr.selfplay.controls import explore_flags

    groups = ["a", "a", "b", "a", "b", "a", "c"]
    # a: 4 items -> 2 explored (the last two a's); b: 2 -> 1; c: 1 -> 0 (a group keeps an on-policy sample)
    assert explore_flags(groups, 0.5) == [False, False, False, True, True, True, False]
    assert explore_flags(groups, 0.0) == [False] * 7
    assert explore_flags(groups, 1.0) == [True] * 7


class _Recorder:
    """A RolloutEngine whose completions say which engine, temperature and seed made them."""

    def __init__(self, name):
        self.name, self.calls = name, []

    def generate(self, prompts, params):
        from azr.rollout.types import Completion

        self.calls.append((list(prompts), params))
        return [[Completion((1,), f"{self.name}:{p}:{params.temperature}", (-1.0,), "eos", (2,))
                 for _ in range(params.n)] for p in prompts]


def test_generate_mixed_routes_the_flagged_prompts_to_the_explorer():
    from azr.selfplay.controls import generate_mixed
    from azr.selfplay.config import ControlsConfig
    from azr.rollout.types import SamplingParams

    engine, explorer = _Recorder("pi"), _Recorder("mu")
    prompts = ["p0", "p1", "p2", "p3", "p4", "p5"]
    groups = ["d", "d", "d", "d", "a", "a"]
    params = SamplingParams(temperature=1.0, max_new_tokens=4, n=2, seed=7)
    controls = ControlsConfig(explore_fraction=0.5, explore_temperature=1.6)
    outs, flags = generate_mixed(engine, explorer, prompts, groups, params, controls, seed=99)
    assert flags == [False, False, True, True, False, True]
    assert [[c.text for c in cs] for cs in outs] == [
        [f"{'mu' if f else 'pi'}:{p}:{1.6 if f else 1.0}"] * 2 for p, f in zip(prompts, flags)]
    assert engine.calls[0][0] == ["p0", "p1", "p4"] and engine.calls[0][1] == params
    assert explorer.calls[0][0] == ["p2", "p3", "p5"] and explorer.calls[0][1].seed == 99
    # off: one call to the engine with the unchanged parameters, nothing to the explorer
    engine2, explorer2 = _Recorder("pi"), _Recorder("mu")
    outs, flags = generate_mixed(engine2, explorer2, prompts, groups, params, ControlsConfig(), seed=99)
    assert not any(flags) and engine2.calls == [(prompts, params)] and explorer2.calls == []


def test_selfplay_batch_reweights_only_the_off_policy_rows(tiny_policy):
    """Self-play's update batch: rows with ``off_policy`` get pi_old (recomputed at the rollout
    temperature) as PPO denominator and A * min(pi_old / mu, cap); the other rows are untouched."""
    from dataclasses import replace

    from azr.config import Config
    from azr.rl.update import recompute_logprobs
    from azr.rollout.types import Completion
    from azr.selfplay.rollouts import Rollout
    from azr.selfplay.update import build_batch
    from azr.tasks import Role, TaskType

    model, tok = tiny_policy
    prompt = tuple(tok("def f(a):")["input_ids"])
    g = torch.Generator().manual_seed(1)
    rows = []
    for role, reward, off in [(Role.SOLVE, 1.0, False), (Role.SOLVE, 0.0, False), (Role.SOLVE, 1.0, True),
                              (Role.PROPOSE, 0.5, False), (Role.PROPOSE, 0.0, True), (Role.PROPOSE, 1.0, True)]:
        ids = tuple(torch.randint(0, len(tok), (6,), generator=g).tolist())
        mu = tuple((-torch.rand(6, generator=g) * 12).tolist())
        rows.append(Rollout(TaskType.ABDUCTION, role, "p", Completion(ids, "", mu, "length", prompt), reward,
                            off_policy=off))
    cfg = Config()
    cfg = replace(cfg, controls=replace(cfg.controls, is_cap=2.5))
    batch, seq_adv, metrics = build_batch(rows, cfg, tok.pad_token_id, model)
    on_rows = [Rollout(r.task_type, r.role, r.prompt, r.completion, r.reward) for r in rows]
    plain, plain_adv, none = build_batch(on_rows, cfg, tok.pad_token_id)
    assert none == {}
    old, _ = recompute_logprobs(model, batch, autocast="none")
    m = batch.response_mask > 0
    for b, r in enumerate(rows):
        if r.off_policy:
            w = torch.exp(old[b][m[b]] - plain.old_logprobs[b][m[b]]).clamp(max=2.5)
            assert torch.allclose(batch.advantages[b][m[b]], plain.advantages[b][m[b]] * w, atol=1e-5)
            assert torch.allclose(batch.old_logprobs[b][m[b]], old[b][m[b]], atol=1e-5)
        else:
            assert torch.equal(batch.advantages[b], plain.advantages[b])
            assert torch.equal(batch.old_logprobs[b], plain.old_logprobs[b])
            assert float(seq_adv[b]) == float(plain_adv[b])
    assert metrics["explore/fraction"] == 0.5 and 0 < metrics["explore/ess"] <= 1
    with pytest.raises(ValueError, match="policy model"):
        build_batch(rows, cfg, tok.pad_token_id)  # off-policy rows without the model


def test_behaviour_engine_loads_a_fixed_model_and_checks_its_vocabulary(tiny_policy, tiny_model_dir, tmp_path):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from azr.selfplay.offpolicy import behaviour_engine
    from azr.selfplay.config import ControlsConfig
    from azr.rollout.config import ModelConfig, RolloutConfig

    model, tok = tiny_policy
    engine = object()
    mcfg, rcfg = ModelConfig(path="unused", device="cpu"), RolloutConfig()
    assert behaviour_engine(mcfg, rcfg, ControlsConfig(explore_fraction=0.5), engine, tok) is engine  # the policy
    assert behaviour_engine(mcfg, rcfg, ControlsConfig(explore_model=str(tiny_model_dir)), engine, tok) is engine  # off
    other = behaviour_engine(mcfg, rcfg, ControlsConfig(explore_fraction=0.5, explore_model=str(tiny_model_dir)),
                             engine, tok)
    assert other is not engine and other.model is not model and not other.model.training
    small = tmp_path / "small"
    Qwen2ForCausalLM(Qwen2Config(vocab_size=16, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1)).save_pretrained(small)
    with pytest.raises(ValueError, match="share a tokenizer"):
        behaviour_engine(mcfg, rcfg, ControlsConfig(explore_fraction=0.5, explore_model=str(small)), engine, tok)
