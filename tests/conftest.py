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
