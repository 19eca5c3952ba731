"""Checkpoints: HF-loadable folders, trainer state, bit-identical resume, history, atomicity."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from azr.rl.batch import make_policy_batch
from azr.rl.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from azr.rl.config import CheckpointConfig, LossConfig, OptimConfig
from azr.rl.optim import build_optimizer, build_scheduler
from azr.rl.update import recompute_logprobs, update_step
from azr.rollout.config import ModelConfig, RolloutConfig
from azr.rollout.hf import HFEngine
from azr.rollout.models import load_policy
from azr.rollout.types import SamplingParams

OPTIM = OptimConfig(lr=1e-3, schedule="warmup", warmup_steps=3)


def _rl_step(model, tok, opt, sched):
    """Sample with the global RNG (seed=None), reward by length, update: one tiny RL step."""
    engine = HFEngine(model, tok, RolloutConfig())
    prompts = ["def f(a):", "print(1)"]
    comps = [c for cs in engine.generate(prompts, SamplingParams(max_new_tokens=6, n=2)) for c in cs]
    rewards = torch.tensor([float(len(c.text) % 3) for c in comps])
    adv = rewards - rewards.mean() + 0.1 * torch.randn(len(comps))  # uses the global RNG too
    batch = make_policy_batch(
        [c.prompt_token_ids for c in comps], [c.token_ids for c in comps], tok.pad_token_id,
        advantages=adv, old_logprobs=[c.logprobs for c in comps],
    )
    old, _ = recompute_logprobs(model, batch)
    res = update_step(model, opt, sched, dataclasses.replace(batch, old_logprobs=old), LossConfig(), OPTIM)
    return [c.token_ids for c in comps], res.metrics


def test_resume_is_bit_identical(tiny_model_dir, tmp_path):
    torch.manual_seed(7)
    model, tok = load_policy(ModelConfig(path=str(tiny_model_dir), device="cpu"))
    opt = build_optimizer(model, OPTIM)
    sched = build_scheduler(opt, OPTIM)
    _rl_step(model, tok, opt, sched)
    save_checkpoint(tmp_path / "checkpoints", 1, model, tok, optimizer=opt, scheduler=sched, extra={"k": [1, 2]})
    tokens_a, metrics_a = _rl_step(model, tok, opt, sched)
    params_a = {n: p.detach().clone() for n, p in model.named_parameters()}

    torch.manual_seed(999)  # a different RNG state that the restore must overwrite
    model2, tok2 = load_policy(ModelConfig(path=str(tiny_model_dir), device="cpu"))
    opt2 = build_optimizer(model2, OPTIM)
    sched2 = build_scheduler(opt2, OPTIM)
    state = load_checkpoint(tmp_path / "checkpoints", model2, optimizer=opt2, scheduler=sched2)
    assert state.step == 1 and state.extra == {"k": [1, 2]}
    tokens_b, metrics_b = _rl_step(model2, tok2, opt2, sched2)
    assert tokens_a == tokens_b
    assert metrics_a == metrics_b
    for n, p in model2.named_parameters():
        assert torch.equal(p, params_a[n]), n


def test_folder_loads_with_from_pretrained(tiny_policy, tmp_path):
    from transformers import AutoModelForCausalLM

    from azr.rollout.models import load_tokenizer

    model, tok = tiny_policy
    with torch.no_grad():
        model.model.norm.weight.add_(1.0)
    path = save_checkpoint(
        tmp_path, 3, model, tok, extra_files={"buffers/deduction.jsonl": '{"a": 1}\n', "raw.bin": b"\x00\x01"}
    )
    assert path.name == "step_000003" and (tmp_path / "LATEST").read_text().strip() == "step_000003"
    loaded = AutoModelForCausalLM.from_pretrained(str(path))
    for (n, p), (_, q) in zip(model.named_parameters(), loaded.named_parameters()):
        assert torch.equal(p, q), n
    assert load_tokenizer(str(path)).encode("def f(a):") == tok.encode("def f(a):")
    assert (path / "buffers" / "deduction.jsonl").read_text() == '{"a": 1}\n'
    assert (path / "raw.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path, 4, model, extra_files={"../escape.txt": "x"})


def test_history_policy_and_latest(tiny_policy, tmp_path):
    model, _ = tiny_policy
    policy = CheckpointConfig(keep_every=3, keep_last=2)
    for step in range(1, 9):
        save_checkpoint(tmp_path, step, model, policy=policy)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 6, 7, 8]
    assert latest_checkpoint(tmp_path).name == "step_000008"
    save_checkpoint(tmp_path, 8, model, policy=policy)  # re-saving a step replaces it
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 6, 7, 8]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_incomplete_folders_are_ignored(tiny_policy, tmp_path):
    model, _ = tiny_policy
    assert latest_checkpoint(tmp_path) is None
    save_checkpoint(tmp_path, 1, model)
    (tmp_path / "step_000002").mkdir()  # e.g. a crash before trainer_state.pt was written
    (tmp_path / ".tmp-step_000003-1").mkdir()
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1]
    assert load_checkpoint(tmp_path, model).step == 1
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "step_000002", model)


def test_mismatched_model_rejected(tiny_policy, tmp_path):
    from azr.rollout.tiny import build_tiny_model
    from transformers import AutoModelForCausalLM

    model, tok = tiny_policy
    path = save_checkpoint(tmp_path / "c", 1, model)
    other = AutoModelForCausalLM.from_pretrained(str(build_tiny_model(tmp_path / "m", tok, num_layers=3)))
    with pytest.raises(ValueError):
        load_checkpoint(path, other)


def _bf16_source(tiny_model_dir, tmp_path):
    """A copy of the tiny model stored in bf16, loaded for training in fp32 (as the coder
    presets load Qwen2.5-Coder)."""
    from transformers import AutoModelForCausalLM

    from azr.rollout.models import load_tokenizer

    src = tmp_path / "bf16_base"
    AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.bfloat16).save_pretrained(str(src))
    tok = load_tokenizer(str(tiny_model_dir))
    tok.save_pretrained(str(src))
    model, tok = load_policy(ModelConfig(path=str(src), device="cpu", dtype="float32"))
    return src, model, tok


def test_weights_are_saved_in_the_source_dtype_with_exact_master_weights(tiny_model_dir, tmp_path):
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from azr.analysis.sparsity import compute_sparsity
    from azr.rl.checkpoint import resolve_save_dtype, source_dtype

    src, model, tok = _bf16_source(tiny_model_dir, tmp_path)
    assert next(model.parameters()).dtype == torch.float32
    assert source_dtype(model) == torch.bfloat16 and resolve_save_dtype(model, "model") == torch.float32
    opt = build_optimizer(model, OPTIM)
    sched = build_scheduler(opt, OPTIM)
    torch.manual_seed(3)
    _rl_step(model, tok, opt, sched)
    path = save_checkpoint(tmp_path / "checkpoints", 1, model, tok, optimizer=opt, scheduler=sched)
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    loaded = AutoModelForCausalLM.from_pretrained(str(path), dtype="auto")
    for (n, p), (_, q) in zip(model.named_parameters(), loaded.named_parameters()):
        assert q.dtype == torch.bfloat16 and torch.equal(p.to(torch.bfloat16), q), n  # round to nearest even
    # bf16 against the bf16 base: one lr-1e-3 step moves most elements by more than a bf16 ulp,
    # but not all of them, and the untouched ones keep identical bits
    res = compute_sparsity(src, path)
    assert 0.0 < res.total["sparsity"] < 1.0 and not any("cast" in n for n in res.notes)

    # resume as the trainer does: the model from the (bf16) folder in fp32, then the optimizer
    # state, whose master copy restores the exact fp32 weights
    model2, tok2 = load_policy(ModelConfig(path=str(path), device="cpu", dtype="float32"))
    opt2 = build_optimizer(model2, OPTIM)
    sched2 = build_scheduler(opt2, OPTIM)
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), model2.parameters()))
    load_checkpoint(path, optimizer=opt2, scheduler=sched2)
    for (n, p), (_, q) in zip(model.named_parameters(), model2.named_parameters()):
        assert torch.equal(p, q), n
    model3, _ = load_policy(ModelConfig(path=str(tiny_model_dir), device="cpu"))
    load_checkpoint(path, model3, restore_rng=False)  # by name, through the model
    for (n, p), (_, q) in zip(model.named_parameters(), model3.named_parameters()):
        assert torch.equal(p, q), n


def test_checkpoint_dtype_model_keeps_the_training_dtype(tiny_model_dir, tmp_path):
    from safetensors import safe_open

    _, model, tok = _bf16_source(tiny_model_dir, tmp_path)
    path = save_checkpoint(tmp_path / "c", 1, model, policy=CheckpointConfig(dtype="model"))
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}
    assert torch.load(path / "trainer_state.pt", weights_only=False)["master"] is None
    with pytest.raises(ValueError):
        CheckpointConfig(dtype="int8")
