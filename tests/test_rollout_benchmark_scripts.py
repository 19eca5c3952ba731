"""The benchmark scripts run (tiny sizes, CPU): gpu.py's dry run and a small logprobs.py run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gpu_script_dry_run(tmp_path):
    gpu = _load("gpu")
    out = tmp_path / "gpu.json"
    res = gpu.main(["--dry-run", "--sections", "generation,training,logprobs", "--out", str(out)])
    assert json.loads(out.read_text())["device"] == "cpu"
    assert {r["cache"] for r in res["generation"]} == {"dynamic", "static"}
    assert all(r["tokens_per_s"] > 0 for r in res["generation"])
    assert res["training"][0]["tokens_per_s"] > 0 and res["training"][0]["grad_norm"] > 0
    assert {(r["variant"], r["mode"]) for r in res["logprobs"]} == {
        (v, m) for v in ("naive", "chunked") for m in ("fwd", "fwd+bwd")
    }


def test_gpu_script_configs_match_published_sizes():
    gpu = _load("gpu")
    # parameter counts of the published Qwen2.5-Coder models (tied embeddings for 0.5B/1.5B)
    expect = {"0.5b": 494_032_768, "1.5b": 1_543_714_304}
    for name, n in expect.items():
        c = gpu.QWEN_CODER[name]
        h, i, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
        kv = h // c["num_attention_heads"] * c["num_key_value_heads"]
        per_layer = (h * h + h) + 2 * (h * kv + kv) + h * h + 3 * h * i + 2 * h
        assert V * h + L * per_layer + h == n


@pytest.mark.slow
def test_logprobs_script_small():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "logprobs.py"), "--seqs", "1", "--seq-len", "64",
         "--hidden", "16", "--vocab", "300", "--chunk", "16", "--reps", "1", "--modes", "fwd+bwd"],
        capture_output=True, text=True, check=True, timeout=300,
    )
    rows = json.loads(out.stdout.strip().splitlines()[-1])["rows"]
    assert {r["variant"] for r in rows} == {"naive", "chunked"}
    assert all(r["extra_mem_gib"] >= 0 and r["time_s"] > 0 for r in rows)


@pytest.mark.slow
def test_pretrain_sweep_script_small(tmp_path):
    """Two tiny variants end to end (corpus, tokenizer, 4 steps, measurement) on the CPU."""
    sweep = _load("pretrain_sweep")
    out = tmp_path / "sweep.json"
    res = sweep.main(["--out", str(out), "--work-root", str(tmp_path / "w"), "--device", "cpu", "--max-steps", "4",
                      "--measure-n", "2", "--measure-batch", "4", "--workers", "1",
                      "--variant", "a=--n-programs 60", "--variant", "b=--n-programs 60 --solve-episodes 1,1,1"])
    assert json.loads(out.read_text())["variants"].keys() == {"a", "b"}
    for name, row in res["variants"].items():
        assert row["build_rc"] == 0 and row["train_rc"] == 0, row.get("log_tail")
        assert row["training"]["steps"] == 4 and row["training"]["tokens_seen"] == 4 * 4 * 768
        assert "fresh/solve/induction/accuracy" in row["metrics"]
    assert res["variants"]["a"]["episodes"]["solve/deduction"] > res["variants"]["b"]["episodes"]["solve/deduction"]
