"""``azr train`` end to end through the CLI, with a tiny random model.

One module-scoped run (2 steps of the tiny preset, shrunk; through ``azr.cli.main``) serves
the key/checkpoint/buffer checks. A second run with the same seed, in a subprocess, is
SIGKILLed after its first checkpoint and continued with ``--resume``: its metrics must equal
the first run's, which checks determinism (step 1) and exact resumption (step 2) at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_selfplay_metric_keys

from azr.tasks.types import GROUPS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def small(model_dir, run_dir, steps=2, extra=()):
    return [
        sys.executable, "-m", "azr", "train", "--preset", "tiny", "--steps", str(steps), "--run-dir", str(run_dir),
        "--set", f"model.path={model_dir}",
        "--set", "selfplay.propose_batch=2", "--set", "selfplay.solve_batch=2",
        "--set", "selfplay.learnability_samples=2", "--set", "rollout.max_new_tokens=24",
        "--set", "selfplay.val_every=2", "--set", "selfplay.val_size=2",
        "--set", "checkpoint.every=1", "--set", "run.data_dir=",
        *extra,
    ]


def run_cli(args, **kw):
    env = {**os.environ, "AZR_DATA_DIR": ""}
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=env, timeout=600, **kw)


def metrics(run_dir):
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith(("time/", "tokens_per_s"))} for r in rows]


@pytest.fixture(scope="module")
def run2(tiny_model_dir, tmp_path_factory):
    from azr.cli import main

    run_dir = tmp_path_factory.mktemp("train") / "run"
    old = os.environ.pop("AZR_DATA_DIR", None)
    try:
        assert main(small(tiny_model_dir, run_dir)[3:]) == 0
    finally:
        if old is not None:
            os.environ["AZR_DATA_DIR"] = old
    return run_dir


def test_every_metric_key_for_every_group(run2):
    run_dir = run2
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert_selfplay_metric_keys(set(rows[0]) & set(rows[1]))
    assert "val/gen_o/accuracy" in rows[1] and "val/gen_i/accuracy" in rows[1]
    # per-group entropies are distinct numbers, not one value copied to every group
    ents = [rows[0][f"entropy/{r.value}/{t.value}"] for t, r in GROUPS]
    assert len(set(ents)) > 1


def test_checkpoint_loadable_and_buffers_step_tagged(run2):
    from transformers import AutoModelForCausalLM

    run_dir = run2
    latest = (run_dir / "checkpoints" / "LATEST").read_text().strip()
    assert latest == "step_000002"
    # a history is kept (the reference code kept only the latest): keep_last=2 in the tiny preset
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("step_*")) == ["step_000001", "step_000002"]
    model = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoints" / latest)
    assert sum(p.numel() for p in model.parameters()) > 0
    for t in ("deduction", "abduction", "induction"):
        lines = (run_dir / "checkpoints" / latest / "buffers" / f"{t}.jsonl").read_text().splitlines()
        entries = [json.loads(x) for x in lines]
        assert entries and all({"hash", "type", "step", "program"} <= set(e) for e in entries)
        assert entries[0]["step"] == -1  # the zero-triplet seed
    assert (run_dir / "config.yaml").is_file()
    samples = (run_dir / "samples" / "step_000001.jsonl").read_text().splitlines()
    assert {json.loads(s)["group"] for s in samples} == {f"{r.value}/{t.value}" for t, r in GROUPS}


def test_same_seed_then_sigkill_and_resume_give_identical_metrics(run2, tiny_model_dir, tmp_path):
    run_dir = run2
    resumed = tmp_path / "killed"
    proc = subprocess.Popen(small(tiny_model_dir, resumed), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "AZR_DATA_DIR": ""})
    try:  # kill as soon as the first checkpoint exists, mid-way through step 2
        deadline = time.time() + 300
        while not (resumed / "checkpoints" / "LATEST").exists() and proc.poll() is None:
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    out = run_cli([sys.executable, "-m", "azr", "train", "--resume", str(resumed)])
    assert out.returncode == 0, out.stderr[-3000:]
    killed = proc.returncode == -signal.SIGKILL
    assert ("resumed from" in out.stderr) == killed
    if killed:
        assert "[step 2/2]" in out.stderr and "ETA" in out.stderr
    assert metrics(resumed) == metrics(run_dir)


def test_bad_config_fails_before_running(tmp_path):
    out = run_cli([sys.executable, "-m", "azr", "train", "--preset", "tiny", "--run-dir", str(tmp_path / "x"),
                   "--set", "selfplay.propose_bach=3"])
    assert out.returncode == 2 and "propose_bach" in out.stderr and "known keys" in out.stderr
    assert not (tmp_path / "x").exists()
    out = run_cli([sys.executable, "-m", "azr", "train", "--preset", "nosuch"])
    assert out.returncode == 2 and "unknown preset" in out.stderr
    out = run_cli([sys.executable, "-m", "azr", "train", "--resume", str(tmp_path)])
    assert out.returncode == 2 and "config.yaml" in out.stderr
    out = run_cli([sys.executable, "-m", "azr", "train", "--preset", "tiny", "--run-dir", str(tmp_path / "x"),
                   "--nproc", "0"])
    assert out.returncode == 2 and "--nproc must be >= 1" in out.stderr
    assert not (tmp_path / "x").exists()


def test_exploration_mixing_through_the_cli(tiny_model_dir, tmp_path):
    """``azr train`` with off-policy exploration mixing: the explored share of each group is
    flagged in the samples and the importance weights are logged."""
    run_dir = tmp_path / "explore"
    out = run_cli(small(tiny_model_dir, run_dir, steps=1, extra=[
        "--set", "controls.explore_fraction=0.5", "--set", "controls.explore_temperature=1.5",
        "--set", "selfplay.val_every=0"]))
    assert out.returncode == 0, out.stderr[-2000:]
    row = metrics(run_dir)[0]
    assert row["explore/fraction"] == pytest.approx(0.5)
    assert 0 < row["explore/weight_mean"] <= 2.0 and 0 < row["explore/ess"] <= 1
    samples = [json.loads(line) for line in (run_dir / "samples" / "step_000001.jsonl").read_text().splitlines()]
    for group in {s["group"] for s in samples}:
        flags = [s["explore"] for s in samples if s["group"] == group]
        assert flags == [False, True], group  # 2 per group: the second comes from the behaviour sampler


def test_fresh_run_refuses_an_existing_run_dir(run2, capsys):
    from azr.cli import main

    assert main(["train", "--preset", "tiny", "--run-dir", str(run2)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "model.path is empty" in capsys.readouterr().err
