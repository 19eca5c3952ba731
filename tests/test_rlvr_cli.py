"""End to end: ``azr rlvr`` on a tiny model for 2 steps, then ``azr analyze sparsity`` against
the base model. The entropy bonus is on so that the random-initialised model (whose rewards
are all equal, hence zero advantages) still gets a real update; off-policy exploration mixes
one behaviour sample into each group."""

from __future__ import annotations

import json

import pytest

from azr.cli import main

TASKS = ("deduction", "abduction", "induction")


def small(tiny_model_dir, run_dir) -> list[str]:
    sets = [f"model.path={tiny_model_dir}", "rollout.max_new_tokens=12", "rlvr.prompts_per_step=3",
            "rlvr.group_size=2", "rlvr.generated_size=6", "checkpoint.every=1", "run.progress=false",
            "selfplay.samples_per_group=1"]
    return ["--preset", "tiny", "--steps", "2", "--run-dir", str(run_dir), *[x for s in sets for x in ("--set", s)]]


@pytest.mark.slow
def test_rlvr_cli_two_steps_then_sparsity_vs_base(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "rlvr"
    args = ["rlvr", *small(tiny_model_dir, run), "--set", "loss.entropy_coef=0.05",
            "--set", "controls.explore_fraction=0.5", "--set", "optim.lr=1e-3"]
    assert main(args) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        for t in TASKS:
            for key in (f"solve/{t}/accuracy", f"solve/{t}/reward_mean", f"solve/{t}/format_error_rate",
                        f"solve/{t}/response_length_mean", f"entropy/solve/{t}", f"advantage/solve/{t}/mean"):
                assert key in r
        assert not any(k.startswith("propose/") or k.startswith("entropy/propose") for k in r)
        assert r["entropy/overall"] > 0 and r["loss/tokens"] > 0 and r["loss/skipped"] == 0.0
        assert r["explore/fraction"] == 0.5 and 0 < r["explore/ess"] <= 1
        assert sum(r[f"solve/{t}/count"] or 0 for t in TASKS) == 6  # 3 prompts x group of 2
    assert (run / "config.yaml").is_file() and (run / "dataset.jsonl").is_file()
    assert (run / "samples" / "step_000002.jsonl").is_file()
    assert (run / "checkpoints" / "LATEST").read_text().strip() == "step_000002"

    ckpt = run / "checkpoints" / "step_000002"
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(str(ckpt))  # loadable HF folder
    capsys.readouterr()
    assert main(["analyze", "sparsity", str(tiny_model_dir), str(ckpt), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["numel"] > 0 and 0.0 <= total["sparsity"] < 1.0  # the update changed weights


def test_rlvr_refuses_a_benchmark_dataset_before_writing_anything(tmp_path, capsys):
    import shutil
    from pathlib import Path

    src = Path("/work/shared/data/benchmarks/cruxeval/cruxeval.jsonl")
    if not src.is_file():
        pytest.skip("benchmark data absent")
    copy = tmp_path / "my_tasks.jsonl"
    shutil.copy(src, copy)
    run = tmp_path / "never"
    assert main(["rlvr", "--preset", "tiny", "--dataset", str(copy), "--run-dir", str(run)]) == 2
    assert "sha256 match" in capsys.readouterr().err and not run.exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "deduction", "program": "def f(a): return a"}\n')
    assert main(["sft", "--preset", "tiny", "--dataset", str(bad), "--run-dir", str(run)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err and not run.exists()


def test_resume_needs_a_run_directory(tmp_path, capsys):
    from azr.cli import main

    assert main(["rlvr", "--resume", str(tmp_path)]) == 2
    assert "no config.yaml" in capsys.readouterr().err
    assert main(["sft", "--resume", str(tmp_path), "--preset", "tiny"]) == 2
    assert "--resume takes the run's own config.yaml" in capsys.readouterr().err
