"""``azr train --nproc 2``: two data-parallel processes (torchrun, gloo, CPU) on the tiny model.

Only rank 0 writes the run directory: one metrics row per step, one checkpoint, the config
and the buffers; every metric key of a single-process run is there. A second test runs one
step with ``--set executor.backend=ray`` (skipped when Ray is not installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_selfplay_metric_keys


REPO = Path(__file__).resolve().parents[1]


def tiny_cmd(model_dir, run_dir, steps=1, extra=()):
    return [
        sys.executable, "-m", "azr", "train", "--preset", "tiny", "--steps", str(steps), "--run-dir", str(run_dir),
        "--set", f"model.path={model_dir}",
        "--set", "selfplay.propose_batch=2", "--set", "selfplay.solve_batch=2",
        "--set", "selfplay.learnability_samples=2", "--set", "rollout.max_new_tokens=16",
        "--set", "selfplay.val_every=0", "--set", "checkpoint.every=0", "--set", "run.data_dir=",
        "--set", "run.progress=false",
        *extra,
    ]


def run_cli(args):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(AZR_DATA_DIR="", OMP_NUM_THREADS="1")
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)


def test_nproc_execs_torchrun_without_nproc(monkeypatch, tmp_path):
    from azr.cli import main

    calls = []

    def fake_execv(path, argv):
        calls.append((path, argv))
        raise SystemExit(0)

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setattr(os, "execv", fake_execv)
    with pytest.raises(SystemExit):
        main(["train", "--preset", "tiny", "--nproc", "3", "--steps", "2", "--run-dir", str(tmp_path / "r"),
              "--set", "optim.lr=1e-6"])
    (path, argv), = calls
    assert path == sys.executable and argv[0] == sys.executable
    assert argv[1:3] == ["-m", "torch.distributed.run"] and "--nproc-per-node=3" in argv
    azr_args = argv[argv.index("azr") + 1:]
    assert azr_args[0] == "train" and "--nproc" not in azr_args
    assert azr_args[azr_args.index("--steps") + 1] == "2" and "optim.lr=1e-6" in azr_args
    assert azr_args[azr_args.index("--preset") + 1] == "tiny"
    assert not (tmp_path / "r").exists()  # nothing ran in this process


def test_nproc_inside_torchrun_does_not_exec(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("re-exec inside torchrun"))
    monkeypatch.setattr("azr.selfplay.trainer.train", lambda cfg, resume=False: cfg.run.run_dir)
    from azr.cli import main

    assert main(["train", "--preset", "tiny", "--nproc", "2", "--steps", "1"]) == 0


@pytest.mark.slow
def test_train_nproc_2_rank0_writes(tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    r = run_cli(tiny_cmd(tiny_model_dir, run_dir, steps=2, extra=["--nproc", "2"]))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2]  # rank 0 alone wrote (2 ranks would double rows)
    for row in rows:
        assert_selfplay_metric_keys(row)
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.is_dir())
    assert len(ckpts) == 1, ckpts  # checkpoint.every=0: the last step only
    assert (run_dir / "checkpoints" / "LATEST").exists()
    assert (run_dir / "config.yaml").is_file() and (run_dir / "buffers").is_dir()
    assert (run_dir / "train.log").read_text().count("sandbox ready") == 1  # rank 0 alone logs to the file


@pytest.mark.slow
def test_train_ray_backend_one_step(tiny_model_dir, tmp_path):
    pytest.importorskip("ray")
    run_dir = tmp_path / "run"
    r = run_cli(tiny_cmd(tiny_model_dir, run_dir, steps=1,
                         extra=["--set", "executor.backend=ray", "--set", "executor.ray_actors=1",
                                "--set", "executor.workers=1"]))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1]
    assert_selfplay_metric_keys(rows[0])
