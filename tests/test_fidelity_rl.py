"""Reference fidelity (issue 17): the analysis and evaluation defaults that follow the study."""

from __future__ import annotations

import argparse

import yaml


def _parser():
    from azr.analysis import cli as analysis_cli
    from azr.eval import cli as eval_cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    analysis_cli.register(sub)
    eval_cli.register(sub)
    return parser


def test_analysis_budgets_default_to_the_runs_training_budget(tmp_path):
    from azr.analysis.cli import AZR_RESPONSE_BUDGET, _run_budget

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"rollout": {"max_new_tokens": 321}}))
    assert _run_budget(tmp_path) == 321
    assert _run_budget(tmp_path / "prompts.jsonl") == AZR_RESPONSE_BUDGET == 8096
    args = _parser().parse_args(["analyze", "difficulty", str(tmp_path)])
    assert (args.questions, args.per_bucket, args.every, args.samples, args.seeds) == (800, None, 25, 8, "separate")
    assert args.max_new_tokens is None  # resolved from the run
    assert _parser().parse_args(["analyze", "entropy", "--checkpoint", "c"]).max_new_tokens is None


def test_eval_study_preset_and_plain_defaults(capsys):
    from azr.eval.cli import STUDY_MAX_NEW_TOKENS, STUDY_N

    assert (STUDY_N, STUDY_MAX_NEW_TOKENS) == (256, 8096)
    args = _parser().parse_args(["eval", "humanevalplus", "--model", "m", "--study"])
    from azr.eval.cli import sampling_defaults

    assert sampling_defaults(args) == (256, 8096)
    assert sampling_defaults(_parser().parse_args(["eval", "mbppplus", "--model", "m"])) == (1, 512)
    assert sampling_defaults(_parser().parse_args(["eval", "mbppplus", "--model", "m", "--study", "--n", "8"])) == (8, 8096)
    parser = _parser()
    try:
        parser.parse_args(["eval", "--help"])
    except SystemExit:
        pass
    out = " ".join(capsys.readouterr().out.split())
    assert "--study" in out and "k = 256" in out


def test_mini_batches_follow_the_reference_split():
    from azr.rl.minibatch import mini_batch_rows

    mb = mini_batch_rows(384, 128)  # 6 x 64 sequences, ppo_mini_batch_size 128, 1 epoch
    assert len(mb) == 3 and [c[0] for c in mb] == [0, 128, 256] and [len(c) for c in mb] == [128] * 3
    assert sum(mb, []) == list(range(384))  # in order, no shuffling, each row once
    assert mini_batch_rows(384, 0) == [list(range(384))]  # optim.ppo_mini_batch=0: one step
    assert [len(c) for c in mini_batch_rows(10, 4)] == [4, 4, 2]
    assert mini_batch_rows(6, 4, epochs=2) == [[0, 1, 2, 3], [4, 5], [0, 1, 2, 3], [4, 5]]
    assert mini_batch_rows(0, 4) == []


def _entries(steps):
    from azr.selfplay.buffer import Entry
    from azr.tasks.types import Triplet

    return [Entry(Triplet(f"def f(a):\n    return a + {i}", str(i), str(i + i)), s) for i, s in enumerate(steps)]


def test_solver_batch_from_the_previous_step_without_replacement():
    import random

    from azr.selfplay.solver_batch import previous_step_tasks, select_solver_tasks

    entries = _entries([-1, 0, 0, 1, 1, 1, 2, 2, 3])  # the step-3 entry is this step's own proposal
    got = previous_step_tasks(entries, 3, 4, random.Random(0))
    assert len(got) == 4 and {e.step for e in got[:2]} == {2}  # both step-2 tasks first
    assert all(e.step < 3 for e in got)  # never this step's proposals
    assert len({e.hash for e in got[2:]}) == 2  # the backfill draws without replacement
    many = previous_step_tasks(entries, 2, 3, random.Random(1))
    assert {e.step for e in many} == {1} and len({e.hash for e in many}) == 3
    short = previous_step_tasks(_entries([-1]), 1, 3, random.Random(0))  # a buffer smaller than k
    assert len(short) == 3
    assert previous_step_tasks(_entries([5]), 1, 3, random.Random(0)) == []
    assert select_solver_tasks("previous", entries, [], 3, 4, random.Random(0)) == got


def test_solver_batch_current_option_keeps_the_old_behaviour():
    import random

    import pytest

    from azr.selfplay.solver_batch import select_solver_tasks

    entries = _entries([-1, 0, 1, 2])
    fresh = entries[3:]
    got = select_solver_tasks("current", entries, fresh, 2, 3, random.Random(0))
    assert got[0] is fresh[0] and len(got) == 3
    with pytest.raises(ValueError):
        select_solver_tasks("next", entries, fresh, 2, 3, random.Random(0))


def test_rl_defaults_are_the_reference_paper_branch():
    from torch import nn

    from azr.rl.config import AdvantageConfig, LossConfig, OptimConfig
    from azr.rl.optim import build_optimizer

    loss, optim = LossConfig(), OptimConfig()
    assert (loss.clip_low, loss.clip_high, loss.dual_clip, loss.entropy_coef, loss.kl_coef) == (0.2, 0.2, None, 0.001, 0.0)
    assert (optim.lr, optim.weight_decay, optim.grad_clip, optim.schedule) == (1e-6, 0.01, 1.0, "constant")
    assert (optim.ppo_mini_batch, optim.ppo_epochs, optim.decay_scope) == (128, 1, "all")
    assert (AdvantageConfig().estimator, AdvantageConfig().weighting) == ("trr++", "token")
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    groups = build_optimizer(model, optim).param_groups
    assert [len(g["params"]) for g in groups] == [4] and groups[0]["weight_decay"] == 0.01  # norms and biases too
    groups = build_optimizer(model, OptimConfig(decay_scope="matrices")).param_groups
    assert [(len(g["params"]), g["weight_decay"]) for g in groups] == [(1, 0.01), (3, 0.0)]
