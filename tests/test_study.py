"""``azr study``: statistics and rules (fast), and the whole study through the CLI at a tiny size (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from azr.study import stats
from azr.study.config import ARMS, StudyConfig, study_preset
from azr.study.runner import arm_argv


def test_wilson_matches_known_values():
    lo, hi = stats.wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert stats.wilson(0, 20)[0] == 0.0 and stats.wilson(0, 20)[1] == pytest.approx(0.1611, abs=1e-4)
    assert all(math.isnan(x) for x in stats.wilson(0, 0))


def test_verdict_rule():
    assert stats.verdict(0.01, 0.2, +1) == "reproduced"
    assert stats.verdict(-0.2, -0.01, +1) == "contradicted"
    assert stats.verdict(-0.2, -0.01, -1) == "reproduced"
    assert stats.verdict(-0.1, 0.2, +1) == "inconclusive"
    assert stats.verdict(-0.01, 0.015, +1) == "contradicted"  # inside +-2 points: no effect that matters
    assert stats.verdict(float("nan"), 0.1, +1) == "inconclusive"


def test_trend_first_vs_last_quarter():
    rows = [{"step": i, "entropy/solve/deduction": 1.0 - 0.1 * i} for i in range(16)]
    t = stats.trend(rows, "entropy/solve/deduction")
    assert t["first"] == pytest.approx(0.85) and t["last"] == pytest.approx(-0.35)
    assert t["ci"][1] < 0 and t["window"] == 4
    assert stats.trend(rows[:1], "entropy/solve/deduction") is None
    assert math.isnan(stats.trend(rows[:4], "entropy/solve/deduction")["ci"][0])  # 1 + 1 steps: no interval


def test_signal_from_samples(tmp_path):
    """Solve-rate shares, fresh vs backfilled solver tasks, reward spread per group."""
    task_a, task_b, old = {"program": "a"}, {"program": "b"}, {"program": "old"}
    rows1 = [
        {"group": "propose/deduction", "reward": 0.0, "solve_rate": 0.0, "task": task_a},
        {"group": "propose/deduction", "reward": 0.5, "solve_rate": 0.5, "task": task_b},
        {"group": "propose/deduction", "reward": -1.0, "solve_rate": None, "task": None},
        {"group": "solve/deduction", "reward": 1.0, "correct": True, "task": old},
        {"group": "solve/deduction", "reward": 1.0, "correct": True, "task": old},
    ]
    rows2 = [
        {"group": "propose/deduction", "reward": 0.0, "solve_rate": 1.0, "task": {"program": "c"}},
        {"group": "solve/deduction", "reward": -0.5, "correct": False, "task": task_a},
        {"group": "solve/deduction", "reward": 1.0, "correct": True, "task": task_b},
    ]
    (tmp_path / "samples").mkdir()
    for step, rows in ((1, rows1), (2, rows2)):
        (tmp_path / "samples" / f"step_{step:06d}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    g = stats.signal(tmp_path)
    assert g["proposals_with_solve_rate"] == 3
    assert g["solve_rate_zero"] == pytest.approx(1 / 3) and g["solve_rate_one"] == pytest.approx(1 / 3)
    assert g["solver_tasks_fresh"] == 2 and g["solver_tasks_backfilled"] == 2
    assert g["groups"] == 4 and g["groups_zero_spread"] == 2  # step 1 solve, step 2 propose (one member)
    assert g["reward_mad_per_group"]["solve/deduction"] == pytest.approx(0.375)


def test_preset_and_arm_commands():
    values = study_preset("tiny")
    assert values["steps"] >= 1 and "optim.lr=1.0e-4" in values["sets"]
    cfg = StudyConfig(out="x", **values)
    argv = arm_argv(cfg, "eq3", Path("x/eq3"), resume=False)
    assert argv[:5] == ["train", "--preset", "tiny", "--run-dir", "x/eq3"]
    assert "reward.proposer=eq3" in argv and f"run.seed={cfg.seed}" in argv
    assert "selfplay.samples_per_group=64" in argv
    resumed = arm_argv(cfg, "rlvr", Path("x/rlvr"), resume=True)
    assert resumed[:3] == ["rlvr", "--resume", "x/rlvr"] and "rlvr.generated_size=512" in resumed
    assert "selfplay.samples_per_group=64" not in resumed
    with pytest.raises(ValueError):
        StudyConfig(out="x", arms=("nope",))
    with pytest.raises(ValueError):
        StudyConfig(out="x", steps=0)


def test_difficulty_buckets_split_the_steps_evenly():
    from azr.analysis.difficulty import bucket_of

    for steps, buckets in ((40, 2), (25, 4), (50, 2), (3, 2), (20, 4), (60, 3)):
        cfg = StudyConfig(out="x", steps=steps, difficulty_buckets=buckets)
        got = {}
        for step in range(1, steps + 1):
            got.setdefault(bucket_of(step, cfg.difficulty_every, "separate"), []).append(step)
        sizes = [len(v) for v in got.values()]
        assert len(got) == buckets and 2 * min(sizes) >= max(sizes), (steps, buckets, sizes)
    with pytest.raises(ValueError):
        StudyConfig(out="x", difficulty_buckets=0)


def test_cli_bad_input_is_exit_2(tmp_path, capsys):
    from azr.cli import main

    assert main(["study", "--out", str(tmp_path / "s"), "--steps", "0"]) == 2
    assert "--steps must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_study_end_to_end_and_resume(tmp_path):
    """Two arms, 1 step each, 2 problems x 2 samples per benchmark: the report has every section;
    a second call with more steps resumes the arm from its checkpoint and evaluates it again."""
    import subprocess
    import sys

    out = tmp_path / "study"
    argv = [sys.executable, "-m", "azr", "study", "--out", str(out), "--steps", "1", "--arms", "selfplay", "rlvr",
            "--eval-n", "2", "--eval-limit", "2", "--difficulty-questions", "2", "--difficulty-samples", "1",
            "--set", "rlvr:rlvr.generated_size=24", "--no-html"]
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (out / "report.md").read_text()
    for heading in ("Takeaways of the study", "Did the solver learn?", "pass@k (%)", "Entropy per (role, task)",
                    "Update sparsity", "The solver's signal"):
        assert heading in report
    assert "| RQ1a |" in report and "| RQ4 (bf16, as the study) |" in report and "| RQ5a |" in report
    result = json.loads((out / "study.json").read_text())
    for name in ("base", "selfplay", "rlvr"):
        for bench in ("gen-o", "gen-i", "gen-f"):
            s = json.loads((out / name / "eval" / bench / "summary.json").read_text())
            assert s["n"] == 2 and s["num_problems"] == 2 and set(s["pass@k"]) == {"1", "2"}
    assert result["analyses"]["selfplay"]["sparsity"]["total"]["numel"] > 0
    assert (out / "selfplay" / "samples").is_dir()
    # resume: selfplay to 2 steps continues its run (rlvr done: skipped)
    argv2 = argv[:7] + ["2", "--arms", "selfplay"] + argv[11:]
    proc = subprocess.run(argv2, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "selfplay: resuming from step 1 to step 2" in proc.stderr
    s = json.loads((out / "selfplay" / "eval" / "gen-o" / "summary.json").read_text())
    assert s["model"].endswith("step_000002")
    assert set(ARMS) >= {"selfplay", "rlvr"}
