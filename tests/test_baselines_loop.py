"""``azr rlvr`` / ``azr sft`` get what the shared run loop gives self-play: exact resume after
SIGKILL (same test as ``azr train``) and ``--nproc 2`` (gloo, CPU) with rank 0 alone writing.
The gradient equivalence of 2 ranks and 1 process is tested at the update level in
tests/test_distributed.py (``policy_update`` with RLVR's per-prompt groups, ``sft_update``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

SETS = {
    "rlvr": ["rollout.max_new_tokens=12", "rlvr.prompts_per_step=2", "rlvr.group_size=2", "rlvr.generated_size=6",
             "loss.entropy_coef=0.05", "optim.lr=1e-3", "controls.explore_fraction=0.5"],
    "sft": ["sft.batch_size=4", "rlvr.generated_size=6", "optim.lr=1e-3"],
}


def cmd(command, model_dir, run_dir, extra=()):
    sets = [f"model.path={model_dir}", "checkpoint.every=1", "run.progress=false", *SETS[command]]
    return [sys.executable, "-m", "azr", command, "--preset", "tiny", "--steps", "2", "--run-dir", str(run_dir),
            *[x for s in sets for x in ("--set", s)], *extra]


def env():
    e = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    e.update(AZR_DATA_DIR="", OMP_NUM_THREADS="1")
    return e


def metrics(run_dir):
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith(("time/", "tokens_per_s"))} for r in rows]


@pytest.mark.parametrize("command", ["rlvr", "sft"])
def test_sigkill_then_resume_gives_the_uninterrupted_metrics(command, tiny_model_dir, tmp_path):
    whole = tmp_path / "whole"
    out = subprocess.run(cmd(command, tiny_model_dir, whole), cwd=REPO, capture_output=True, text=True,
                         env=env(), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(cmd(command, tiny_model_dir, killed_dir), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env())
    try:  # kill as soon as the first checkpoint exists, mid-way through step 2
        deadline = time.time() + 300
        while not (killed_dir / "checkpoints" / "LATEST").exists() and proc.poll() is None:
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    out = subprocess.run([sys.executable, "-m", "azr", command, "--resume", str(killed_dir)], cwd=REPO,
                         capture_output=True, text=True, env=env(), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert ("resumed from" in out.stderr) == (proc.returncode == -signal.SIGKILL)
    assert [r["step"] for r in metrics(whole)] == [1, 2]
    assert metrics(killed_dir) == metrics(whole)


@pytest.mark.parametrize("command", ["rlvr", "sft"])
def test_nproc_2_rank0_writes(command, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    out = subprocess.run(cmd(command, tiny_model_dir, run_dir, extra=["--nproc", "2"]), cwd=REPO,
                         capture_output=True, text=True, env=env(), timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    rows = metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2]  # rank 0 alone wrote (2 ranks would double rows)
    assert all(r["loss/tokens"] > 0 and r["loss/skipped"] == 0.0 for r in rows)
    assert (run_dir / "checkpoints" / "LATEST").read_text().strip() == "step_000002"
    if command == "rlvr":
        assert all(r["explore/fraction"] == 0.5 for r in rows)  # off-policy rows under data parallelism
