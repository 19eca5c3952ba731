"""The single-GPU benchmark script (benchmarks/gpu_selfplay.py) runs its CPU smoke path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_selfplay.py"


@pytest.mark.timeout(600)
def test_gpu_selfplay_tiny_runs_two_steps(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_selfplay", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "result.json"
    result = mod.main(["--tiny", "--steps", "2", "--max-new-tokens", "8", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    steps = result["steps"]
    assert [s["step"] for s in steps] == [1, 2]
    for s in steps:
        assert s["sequences"] == 12  # 2 proposer + 2 solver prompts for each of 3 task types
        assert s["update_tokens"] > 0 and s["loss/skipped"] == 0.0
        assert s["time/update"] > 0 and s["time/propose"] > 0 and s["time/solve"] > 0
        assert s["update_memory"]["peak_rss_gib"] > 0
    printed = capsys.readouterr().out
    assert "| step | propose s |" in printed and printed.count("\n| 1 |") == 1
