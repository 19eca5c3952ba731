"""The azr-tiny training loop on a toy corpus: schedule, batches, determinism, saving, CLI errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from azr.pretrain.config import ArchitectureConfig, TrainConfig
from azr.pretrain.train import Batches, build_model, lr_at, save_model, split_tokens, tokenize_documents, train

TINY = ArchitectureConfig(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128)
CFG = TrainConfig(seq_len=32, batch_size=2, max_steps=6, warmup_steps=2, eval_every=3, lr=1e-2, threads=1, bf16=False)


@pytest.fixture(scope="module")
def tokenizer():
    from azr.rollout.tiny import train_tokenizer

    docs = [f"def f(x):\n    return x * {i} + {i % 7}\n" for i in range(200)]
    return train_tokenizer(corpus=docs, vocab_size=400)


@pytest.fixture(scope="module")
def tokens(tokenizer):
    docs = [f"def f(x):\n    return x * {i} + {i % 7}\n" for i in range(300)]
    return tokenize_documents(docs, tokenizer)


def test_lr_schedule():
    cfg = TrainConfig(lr=1.0, warmup_steps=10, max_steps=110)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(60, cfg) == pytest.approx(0.55)
    assert lr_at(110, cfg) == pytest.approx(0.1) and lr_at(500, cfg) == pytest.approx(0.1)


def test_tokenize_and_batches(tokenizer, tokens):
    eos = tokenizer.eos_token_id
    assert tokens.dtype == np.uint16 and (tokens == eos).sum() == 300
    train_t, val_t = split_tokens(tokens, 0.1)
    assert len(train_t) + len(val_t) == len(tokens) and len(val_t) == int(len(tokens) * 0.1)
    b1 = Batches(train_t, eos, seq_len=16, batch_size=4, seed=3).next()
    b2 = Batches(train_t, eos, seq_len=16, batch_size=4, seed=3).next()
    assert b1.shape == (4, 17) and b1.dtype == torch.int64 and torch.equal(b1, b2)
    # every row starts at a document start (the token before it is EOS, or it is the stream start)
    text = tokenizer.decode(b1[0].tolist())
    assert text.startswith("def f(x)")
    with pytest.raises(ValueError):
        Batches(train_t[:10], eos, seq_len=16, batch_size=1, seed=0)


def test_training_lowers_loss_and_is_deterministic(tokenizer, tokens, tmp_path):
    train_t, val_t = split_tokens(tokens, 0.2)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model(TINY, tokenizer)
        logs: list[str] = []
        summary = train(model, train_t, val_t, replace(CFG, max_steps=8, eval_every=4), tokenizer.eos_token_id, log=logs.append)
        runs.append((model, summary))
        assert len(logs) == 2 and summary["steps"] == 8 and summary["stop"] == "max_steps"
    (m1, s1), (m2, s2) = runs
    assert s1["history"][-1]["val_loss"] < s1["history"][0]["val_loss"] + 1e-6 or s1["final_val_loss"] < 6.0
    assert s1["final_val_loss"] < np.log(len(tokenizer))  # better than uniform
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)
    save_model(m1, tokenizer, str(tmp_path / "m"))
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(str(tmp_path / "m"))
    assert loaded.config.tie_word_embeddings and loaded.generation_config.eos_token_id == tokenizer.eos_token_id
    assert (tmp_path / "m" / "model.safetensors").exists()


def test_wall_clock_cap_stops_early(tokenizer, tokens):
    train_t, val_t = split_tokens(tokens, 0.2)
    model = build_model(TINY, tokenizer)
    summary = train(model, train_t, val_t, replace(CFG, max_steps=10_000, max_minutes=1e-9), tokenizer.eos_token_id,
                    log=lambda s: None)
    assert summary["stop"] == "max_minutes" and summary["steps"] < 10_000


def test_cli_refuses_without_benchmark_data(monkeypatch, tmp_path, capsys):
    from azr.cli import main

    monkeypatch.delenv("AZR_DATA_DIR", raising=False)
    assert main(["pretrain", "--out", str(tmp_path / "m"), "--work-dir", str(tmp_path / "w")]) == 2
    assert "decontamination" in capsys.readouterr().err
    assert main(["pretrain", "--measure-only", "--out", str(tmp_path / "missing")]) == 2


def test_cli_settings_parse_and_bad_ones_fail_cleanly(tmp_path, capsys):
    import argparse

    from azr.cli import main
    from azr.pretrain.cli import _build_config, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    cfg = _build_config(parser.parse_args(["pretrain", "--solve-episodes", "3,1,2", "--threads", "1"]))
    assert cfg.corpus.solve_episodes == (3, 1, 2) and cfg.train.threads == 1 and cfg.train.bf16 is False
    assert _build_config(parser.parse_args(["pretrain", "--bf16"])).train.bf16 is True
    assert _build_config(parser.parse_args(["pretrain", "--device", "cuda"])).train.device == "cuda"
    assert TrainConfig().device == "cpu"
    for bad in ("3,1", "a,b,c", "0,1,1"):
        assert main(["pretrain", "--solve-episodes", bad, "--out", str(tmp_path / "m")]) == 2
        assert "solve" in capsys.readouterr().err
