"""Shared fixtures.

``tiny_model_dir`` (session): a folder holding a random-initialised tiny Qwen2 causal LM
(2 layers, hidden 64, tied embeddings) and a byte-level BPE tokenizer (2,048 tokens) trained
locally on the standard library; loadable with ``AutoModelForCausalLM.from_pretrained`` and
``azr.rollout.models.load_tokenizer`` (left padding, EOS = pad = ``<|endoftext|>``, a chat
template). Built once per session in a few seconds; treat it as read-only.

``tiny_tokenizer_dir`` (session): the tokenizer alone. ``tiny_policy`` (function): a fresh
``(model, tokenizer)`` loaded from ``tiny_model_dir`` on the CPU in fp32, free to modify.
"""

from __future__ import annotations

import os

import pytest

# Tiny test models are dominated by per-op overhead, and with two intra-op threads on a busy
# 2-core machine OpenMP spin-waiting made sampling ~17x slower (0.97 s vs 17 s for 8 x 32
# tokens, measured 2026-11-27 at load 10). One thread unless the caller chose otherwise; this
# must run before torch is imported, which conftest does.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory):
    from azr.rollout.tiny import train_tokenizer

    path = tmp_path_factory.mktemp("tiny_tokenizer")
    train_tokenizer(path, max_bytes=600_000)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer_dir):
    from azr.rollout.models import load_tokenizer
    from azr.rollout.tiny import build_tiny_model

    path = tmp_path_factory.mktemp("tiny_model")
    build_tiny_model(path, load_tokenizer(str(tiny_tokenizer_dir)), seed=0)
    return path


@pytest.fixture
def tiny_policy(tiny_model_dir):
    from azr.rollout.config import ModelConfig
    from azr.rollout.models import load_policy

    return load_policy(ModelConfig(path=str(tiny_model_dir), device="cpu"))


def assert_selfplay_metric_keys(keys) -> None:
    """The keys every self-play metrics row has: each (task, role) group's own metrics, the
    buffers', the update's and the timings (docs/interfaces.md)."""
    from azr.tasks.types import GROUPS

    for task, role in GROUPS:
        g = f"{role.value}/{task.value}"
        for k in ("reward_mean", "reward_std", "format_error_rate", "response_length_mean", "response_length_max"):
            assert f"{g}/{k}" in keys, f"{g}/{k}"
        assert f"entropy/{role.value}/{task.value}" in keys
        assert f"advantage/{g}/mean" in keys and f"advantage/{g}/std" in keys
        if role.value == "solve":
            assert f"{g}/accuracy" in keys
        else:
            assert f"{g}/valid_rate" in keys and f"{g}/solve_rate" in keys
    for t in ("deduction", "abduction", "induction"):
        assert f"buffer/{t}/size" in keys and f"buffer/{t}/distinct_programs" in keys
    for k in ("loss/policy", "loss/total", "loss/grad_norm", "loss/lr", "loss/approx_kl", "loss/entropy",
              "loss/tokens", "entropy/overall", "tokens_per_s", "tokens/generated", "time/step", "time/update",
              "time/checkpoint", "time/propose", "time/solve", "time/execute"):
        assert k in keys, k


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the rendezvous of spawned gloo ranks)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
