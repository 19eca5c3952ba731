"""End to end: ``azr sft`` on a tiny model for 2 steps (reference answers, and a dataset file
such as a run's exported problems), then ``azr analyze sparsity`` against the base model."""

from __future__ import annotations

import json
import re

import pytest

from azr.cli import main


def sft_args(tiny_model_dir, run_dir, *extra: str) -> list[str]:
    sets = [f"model.path={tiny_model_dir}", "sft.batch_size=4", "rlvr.generated_size=6", "checkpoint.every=1",
            "run.progress=false", "optim.lr=1e-3", *extra]
    return ["sft", "--preset", "tiny", "--steps", "2", "--run-dir", str(run_dir),
            *[x for s in sets for x in ("--set", s)]]


@pytest.mark.slow
def test_sft_cli_two_steps_then_sparsity_vs_base(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "sft"
    assert main(sft_args(tiny_model_dir, run)) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert r["loss/nll"] > 0 and r["loss/tokens"] > 0 and r["sft/kept"] == 4 and r["entropy/overall"] > 0
        assert r["tokens_per_s"] > 0 and r["sft/tokens"] > 0  # the progress line's tok/s (issue 18)
    log = (run / "train.log").read_text()  # every step line, with SFT's loss and throughput
    rates = re.findall(r"\[step \d/2\] [0-9.]+s \| (\d+) tok/s \| loss \d", log)
    assert len(rates) == 2 and all(int(x) > 0 for x in rates), log
    ckpt = run / "checkpoints" / "step_000002"
    capsys.readouterr()
    assert main(["analyze", "sparsity", str(tiny_model_dir), str(ckpt), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert 0.0 <= total["sparsity"] < 1.0

    # The run's dataset.jsonl is itself a dataset; training on it learns (NLL goes down).
    run2 = tmp_path / "sft2"
    args = sft_args(tiny_model_dir, run2, "sft.batch_size=6", "optim.lr=3e-3")
    assert main([*args, "--dataset", str(run / "dataset.jsonl"), "--steps", "3"]) == 0
    nll = [json.loads(line)["loss/nll"] for line in (run2 / "metrics.jsonl").read_text().splitlines()]
    assert len(nll) == 3 and nll[-1] < nll[0]


@pytest.mark.slow
def test_sft_rejection_source_keeps_only_verified_samples(tiny_model_dir, tmp_path):
    run = tmp_path / "rft"
    args = sft_args(tiny_model_dir, run, "sft.source=rejection", "sft.rejection_samples=2",
                    "rollout.max_new_tokens=8", "sft.batch_size=2")
    assert main([*args, "--steps", "1"]) == 0
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    # a random-initialised model never answers correctly: nothing is kept, the step is skipped
    assert row["sft/kept"] == 0 and row["sft/kept_rate"] == 0.0 and row["loss/skipped"] == 1.0
    assert any(k.endswith("/accuracy") and v == 0.0 for k, v in row.items())
