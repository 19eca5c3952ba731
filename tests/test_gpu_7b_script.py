"""benchmarks/gpu_7b.py end to end on the CPU (``--tiny``): the same code path the GPU
session runs (self-play step of the 3B preset's shape, FSDP2 + CPU-offload update)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_gpu_7b", ROOT / "benchmarks" / "gpu_7b.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_dry_run_covers_both_sections(tmp_path):
    bench = _load()
    out = tmp_path / "gpu_7b.json"
    res = bench.main(["--tiny", "--update-repeats", "1", "--out", str(out)])
    assert json.loads(out.read_text())["info"]["device"].startswith("cpu")
    sp = res["selfplay"]
    assert sp["cache_check"]["identical_fraction"] == 1.0  # static and dynamic caches agree on the CPU
    assert sp["cache_check"]["split_identical_fraction"] == 1.0  # and 5-row sub-batches equal one batch
    assert len(sp["generate_calls"]) >= 2 and all(c["generated_tokens"] > 0 for c in sp["generate_calls"])
    assert sp["update_sequences"] == 3 * 2 * 2  # 3 task types x (propose + solve) x 2 prompts
    assert sp["step_s"] >= sp["rollout_s"] > 0 and sp["update_tflops"] > 0
    assert sp["max_batch_tokens"] > 0 and sp["planned"]["fits"]
    u = res["update7b"]
    assert u["params"] == bench.TINY_7B_ARCH.params  # the planner's count of the sharded model
    assert u["steps"] and math.isfinite(u["steps"][0]["loss"]) and u["steps"][0]["optimizer_s"] > 0
    assert "FSDP2 + CPU offload" in bench.report(res)


def test_model_flops_formula():
    bench = _load()
    a = bench.TINY_ARCH
    per_token = 6 * (a.layers * a.layer_params + a.embed_params)
    assert bench.matmul_flops(a, [10]) == per_token * 10 + 6 * a.layers * a.hidden * 100
