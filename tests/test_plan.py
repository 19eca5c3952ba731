"""The memory planner: architecture numbers, parts per strategy, fit verdicts and exit codes."""

from __future__ import annotations

import io

import pytest

from azr.config import load_config
from azr.plan import (QWEN25_CODER_3B, QWEN25_CODER_7B, Hardware, arch_from_config_json, main, plan_strategy,
                      persistent_parts, run_plan, workload_from_config)


def test_reference_architectures_match_their_model_cards():
    assert round(QWEN25_CODER_3B.params / 1e9, 2) == 3.09
    assert round(QWEN25_CODER_7B.params / 1e9, 2) == 7.62
    assert QWEN25_CODER_7B.kv_bytes_per_token(2) == 57_344  # the "57 KB of K/V per token"
    assert QWEN25_CODER_3B.kv_bytes_per_token(2) == 36_864


@pytest.mark.parametrize("tied", [True, False])
def test_parameter_count_equals_a_real_models(tmp_path, tied):
    from transformers import AutoModelForCausalLM, Qwen2Config

    cfg = Qwen2Config(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=300, tie_word_embeddings=tied)
    cfg.save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_config(cfg)
    assert arch_from_config_json(tmp_path).params == sum(p.numel() for p in model.parameters())
    from azr.rollout.decode import kv_bytes_per_token
    import torch

    assert arch_from_config_json(tmp_path).kv_bytes_per_token(2) == kv_bytes_per_token(cfg, torch.bfloat16)


def test_sharding_divides_the_persistent_state():
    w = workload_from_config(load_config("coder7b"), 2048)
    p = QWEN25_CODER_7B.params
    ddp = persistent_parts(QWEN25_CODER_7B, w, Hardware(4, 80), "ddp")
    fsdp = persistent_parts(QWEN25_CODER_7B, w, Hardware(4, 80), "fsdp")
    off = persistent_parts(QWEN25_CODER_7B, w, Hardware(4, 80), "fsdp-offload")
    assert ddp["weights (fp32 master)"] == 4 * p and ddp["optimizer (AdamW m, v)"] == 8 * p
    assert ddp["DDP gradient buckets"] == 4 * p and ddp["bf16 sampling copy"] == 2 * p
    assert fsdp["weights (fp32 master)"] == p and fsdp["DDP gradient buckets"] == 0
    assert off["weights (fp32 master)"] == 0 and off["bf16 sampling copy"] == 2 * p


def test_verdicts_for_the_presets():
    cfg7, cfg3 = load_config("coder7b"), load_config("coder3b")
    w7 = workload_from_config(cfg7, 2048)
    one = {s: plan_strategy(QWEN25_CODER_7B, w7, Hardware(1, 80), s) for s in ("ddp", "fsdp-offload")}
    assert not one["ddp"].fits and one["fsdp-offload"].fits  # 16 bytes x 7.6B = 114 GiB > 80
    eight = plan_strategy(QWEN25_CODER_7B, w7, Hardware(8, 80), "fsdp")
    assert eight.fits and eight.rows >= 1 and eight.micro_batch_tokens >= w7.row_tokens
    assert sum(eight.rollout.values()) <= Hardware(8, 80).usable()
    assert plan_strategy(QWEN25_CODER_3B, workload_from_config(cfg3, 2048), Hardware(1, 80), "ddp").fits
    out = io.StringIO()
    assert run_plan(cfg3, 1, 80, 2048, "coder3b", out=out, err=io.StringIO()) == 0
    assert "recommended: ddp" in out.getvalue()


def test_a_preset_that_cannot_fit_exits_2_with_one_line(capsys):
    assert main(["--preset", "coder7b", "--gpus", "1", "--gpu-mem", "24"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not fit 1 x 24 GiB" in err
    assert main(["--preset", "nope"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["--preset", "coder7b", "--gpus", "0"]) == 2
    capsys.readouterr()
    # one 80 GiB card fits the 7B only with host offload, which needs 114 GiB of host memory:
    # more than 90% of a 128 GB (119 GiB) machine
    assert main(["--preset", "coder7b", "--gpu-mem", "80", "--host-mem", "119"]) == 2
    assert "113.5 GiB of host memory" in capsys.readouterr().err
    assert main(["--preset", "coder7b", "--gpu-mem", "80", "--host-mem", "256"]) == 0


def test_local_model_folder_is_read(tiny_model_dir, capsys):
    assert main(["--preset", "tiny", "--set", f"model.path={tiny_model_dir}", "--gpu-mem", "8"]) == 0
    assert "recommended: ddp" in capsys.readouterr().out


def test_azr_train_plan_flag(capsys):
    from azr.cli import main as azr_main

    assert azr_main(["train", "--preset", "coder7b", "--plan", "--gpus", "8"]) == 0
    assert "recommended: fsdp" in capsys.readouterr().out
    assert azr_main(["train", "--preset", "coder7b", "--plan", "--gpu-mem", "24"]) == 2
    assert "does not fit" in capsys.readouterr().err
