"""`azr eval` end to end: scoring a samples file, sampling a tiny model, `compare`."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from azr.eval.benchmarks import load_benchmark
from azr.eval.cli import register

SHARED = Path(os.environ.get("AZR_TEST_DATA_DIR", "/work/shared/data/benchmarks"))
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"no benchmark data at {SHARED}")


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="azr")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def _write_samples(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_score_samples_file_writes_outputs_and_compare(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AZR_DATA_DIR", str(SHARED))
    problems = load_benchmark("humaneval", SHARED, limit=4)
    good, mixed = [], []
    for p in problems:
        for i in range(4):
            good.append({"task_id": p.task_id, "completion": p.reference})
            mixed.append({"task_id": p.task_id, "completion": p.reference if i < 1 else "    return None\n"})
    a = tmp_path / "a"
    b = tmp_path / "b"
    common = ["--limit", "4", "--no-progress", "--workers", "2"]
    assert run_cli(["eval", "humaneval", "--samples", str(_write_samples(tmp_path / "m.jsonl", mixed)),
                    "--output", str(a), *common]) == 0
    assert run_cli(["eval", "humaneval", "--samples", str(_write_samples(tmp_path / "g.jsonl", good)),
                    "--output", str(b), *common]) == 0
    out = capsys.readouterr().out
    assert "humaneval" in out and "pass@1" in out

    summary = json.loads((a / "summary.json").read_text())
    assert summary["benchmark"] == "humaneval" and summary["n"] == 4
    assert summary["pass@k"]["1"] == pytest.approx(0.25)
    assert summary["pass@k"]["4"] == pytest.approx(1.0)
    assert set(summary["pass@k"]) == {"1", "2", "4"} == set(summary["ci"])
    assert summary["per_problem"][0] == {"task_id": "HumanEval/0", "n": 4, "c": 1}
    results = [json.loads(x) for x in (a / "results.jsonl").read_text().splitlines()]
    assert len(results) == 16
    assert {"task_id", "index", "passed", "status", "reason"} <= set(results[0])
    assert [r["index"] for r in results[:4]] == [0, 1, 2, 3]
    assert len((a / "samples.jsonl").read_text().splitlines()) == 16

    assert run_cli(["eval", "compare", str(a / "summary.json"), str(b), "--json", str(tmp_path / "c.json")]) == 0
    text = capsys.readouterr().out
    assert "paired" in text
    comparison = json.loads((tmp_path / "c.json").read_text())
    assert comparison["per_k"]["1"]["diff"] == pytest.approx(0.75)
    assert comparison["per_k"]["1"]["wins"] == 4


def test_bad_invocations_fail_cleanly(tmp_path, capsys):
    assert run_cli(["eval", "nope", "--samples", "x.jsonl", "--output", str(tmp_path)]) == 2
    assert run_cli(["eval", "humaneval", "--output", str(tmp_path)]) == 2  # neither source
    assert run_cli(["eval", "humaneval", "--model", "m", "--samples", "s", "--output", str(tmp_path)]) == 2
    # the user's data errors exit 2 like every other user error (issue 18)
    assert run_cli(["eval", "humaneval", "--samples", str(tmp_path / "missing.jsonl"),
                    "--output", str(tmp_path / "o"), "--data-dir", str(SHARED)]) == 2
    (tmp_path / "empty").mkdir()
    assert run_cli(["eval", "aime24", "--samples", str(tmp_path / "s.jsonl"), "--output", str(tmp_path / "o"),
                    "--data-dir", str(tmp_path / "empty")]) == 2
    assert run_cli(["eval", "compare", str(tmp_path / "a.json")]) == 2
    assert run_cli(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark" in err and "aime24/test.jsonl" in err and "samples file not found" in err


def test_sample_a_tiny_model_end_to_end(tiny_model_dir, tmp_path, capsys):
    """`azr eval BENCH --model PATH --n 2`: sampling with the rollout engine, then scoring
    (code in the sandbox, math with math-verify); a random model scores ~0, but every
    stage runs and the files are complete."""
    out = tmp_path / "run"
    rc = run_cli(["eval", "humaneval", "cruxeval-o", "gsm8k", "--model", str(tiny_model_dir),
                  "--n", "2", "--limit", "2", "--max-new-tokens", "8", "--temperature", "1.0",
                  "--device", "cpu", "--output", str(out), "--data-dir", str(SHARED),
                  "--no-progress", "--math-workers", "0"])
    assert rc == 0
    for bench in ("humaneval", "cruxeval-o", "gsm8k"):
        summary = json.loads((out / bench / "summary.json").read_text())
        assert summary["n"] == 2 and summary["num_problems"] == 2
        assert set(summary["pass@k"]) == {"1", "2"}
        assert summary["sampling"]["n"] == 2 and summary["model"] == str(tiny_model_dir)
        samples = [json.loads(x) for x in (out / bench / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == 4 and all("raw" in s and s["num_tokens"] <= 8 for s in samples)
        assert len((out / bench / "results.jsonl").read_text().splitlines()) == 4
    assert "cruxeval-o" in capsys.readouterr().out
