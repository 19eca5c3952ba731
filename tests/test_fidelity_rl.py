"""Reference fidelity (issue 17): the analysis and evaluation defaults that follow the study."""

from __future__ import annotations

import argparse

import pytest
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
    assert (loss.agg, loss.token_mean_group) == ("token-mean", 16)
    assert (optim.lr, optim.weight_decay, optim.grad_clip, optim.schedule) == (1e-6, 0.01, 1.0, "constant")
    assert (optim.ppo_mini_batch, optim.ppo_epochs, optim.decay_scope) == (128, 1, "all")
    assert (AdvantageConfig().estimator, AdvantageConfig().weighting) == ("trr++", "token")
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    groups = build_optimizer(model, optim).param_groups
    assert [len(g["params"]) for g in groups] == [4] and groups[0]["weight_decay"] == 0.01  # norms and biases too
    groups = build_optimizer(model, OptimConfig(decay_scope="matrices")).param_groups
    assert [(len(g["params"]), g["weight_decay"]) for g in groups] == [(1, 0.01), (3, 0.0)]


def _fidelity_rows():
    """(key, default) of every row of docs/fidelity.md that names a config key."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "fidelity.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6:
            continue
        key = re.fullmatch(r"`([a-z_]+\.[a-z_]+)`", cells[3])
        value = re.match(r"`([^`]*)`", cells[4])
        if key and value:
            rows.append((key.group(1), yaml.safe_load(value.group(1))))
    return rows


@pytest.mark.parametrize("preset", ["coder7b", "coder3b"])
def test_print_config_of_coder7b_matches_the_fidelity_table(capsys, preset):
    from azr.cli import main

    assert main(["train", "--preset", preset, "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    rows = _fidelity_rows()
    assert len(rows) >= 35
    wrong = []
    for key, want in rows:
        section, name = key.split(".")
        got = printed.get(section, {}).get(name, "<missing>")
        if got != want:
            wrong.append(f"{key}: docs/fidelity.md says {want!r}, --print-config says {got!r}")
    assert not wrong, "\n".join(wrong)


def test_ppo_update_takes_one_optimizer_step_per_mini_batch_in_order(tiny_policy, monkeypatch):
    import dataclasses

    import torch

    import azr.rl.update as upd
    from azr.rl.batch import make_policy_batch
    from azr.rl.config import LossConfig, OptimConfig
    from azr.rl.optim import build_optimizer, build_scheduler

    model, _ = tiny_policy
    g = torch.Generator().manual_seed(0)
    n = 6
    prompts = [torch.randint(1, 2000, (5,), generator=g).tolist() for _ in range(n)]
    resps = [torch.randint(1, 2000, (4,), generator=g).tolist() for _ in range(n)]
    adv = torch.arange(1, n + 1, dtype=torch.float32) * torch.tensor([1, -1, 1, -1, 1, -1])  # identifies rows
    batch = make_policy_batch(prompts, resps, 0, advantages=adv)
    old, _ = upd.recompute_logprobs(model, batch)
    batch = dataclasses.replace(batch, old_logprobs=old)
    seen = []
    real = upd.update_step

    def spy(model, optimizer, scheduler, b, *args, **kw):  # the real step, observed
        res = real(model, optimizer, scheduler, b, *args, **kw)
        seen.append((b.advantages[:, -1].tolist(), res.metrics["loss/approx_kl"]))
        return res

    monkeypatch.setattr(upd, "update_step", spy)
    cfg = OptimConfig(lr=1e-2, ppo_mini_batch=2, ppo_epochs=1)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg)
    res = upd.ppo_update(model, opt, sched, batch, LossConfig(), cfg)
    assert res.metrics["loss/mini_batches"] == 3 and res.metrics["loss/optimizer_steps"] == 3
    assert [rows for rows, _ in seen] == [[1, -2], [3, -4], [5, -6]]  # consecutive rows, in order
    assert sched.last_epoch == 3 and all(s["step"] == 3 for s in opt.state.values())
    # old log-probs are fixed before the first mini-batch: the policy equals them there, and
    # has moved for the later ones (so the ratio clip can act)
    assert seen[0][1] == pytest.approx(0.0, abs=1e-6) and seen[1][1] > 1e-6 and seen[2][1] > 1e-6
    assert res.entropy.shape == (n,) and bool((res.entropy > 0).all())
    seen.clear()
    two = upd.ppo_update(model, opt, sched, batch, LossConfig(), OptimConfig(ppo_mini_batch=4, ppo_epochs=2))
    assert [len(rows) for rows, _ in seen] == [4, 2, 4, 2] and two.metrics["loss/optimizer_steps"] == 4
    seen.clear()
    upd.ppo_update(model, opt, sched, batch, LossConfig(), OptimConfig(ppo_mini_batch=0))
    assert len(seen) == 1 and len(seen[0][0]) == n  # optim.ppo_mini_batch=0: one step over everything


def test_rollouts_enter_the_update_in_the_reference_order():
    from azr.rollout.types import Completion
    from azr.selfplay.rollouts import Rollout
    from azr.selfplay.update import reference_order
    from azr.tasks.types import Role, TaskType

    rows = [Rollout(t, r, "p", Completion([1], "x", [0.0], "stop", [1]), 0.0)
            for r in (Role.PROPOSE, Role.SOLVE) for t in (TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION)]
    got = [(rows[i].task_type.value, rows[i].role.value) for i in reference_order(rows)]
    assert got == [("abduction", "propose"), ("abduction", "solve"), ("deduction", "propose"),
                   ("deduction", "solve"), ("induction", "propose"), ("induction", "solve")]


def test_livecodebench_execution_validation_set(tmp_path, caplog):
    import json
    import logging

    from azr.selfplay.validation import build_heldout_sets, lcb_execution_triplet
    from azr.tasks.types import TaskType

    row = {"code": "def countWays(nums: List[int], k: int) -> int:\n    if k == 0:\n        return 1\n"
                   "    return countWays(nums, k - 1) + len(nums)\n",
           "input": "countWays(nums = [1, 2], k = 2)", "output": "5"}
    t = lcb_execution_triplet(row)
    assert t.input == "nums=[1, 2], k=2" and t.output == "5"
    assert "def f(nums: List[int], k: int)" in t.program and "return f(nums, k - 1)" in t.program
    assert "countWays" not in t.program and t.program.startswith("from typing import *")
    assert lcb_execution_triplet({**row, "input": "other(1)"}) is None
    assert lcb_execution_triplet({**row, "input": "__import__('os')"}) is None

    with caplog.at_level(logging.INFO, logger="azr.selfplay.validation"):
        assert build_heldout_sets(("lcb_execution_i",), 10, str(tmp_path), 0, env=None) == []
    assert "lcb_execution_i skipped" in caplog.text  # absent data is said, not hidden
    (tmp_path / "livecodebench").mkdir()
    (tmp_path / "livecodebench" / "execution.jsonl").write_text(
        json.dumps(row) + "\n" + json.dumps({**row, "input": "nope(1)"}) + "\n")
    sets = build_heldout_sets(("lcb_execution_i", "lcb_execution_o"), 10, str(tmp_path), 0, env=None)
    assert [(s.name, s.task_type, len(s.tasks)) for s in sets] == [
        ("lcb_execution_i", TaskType.ABDUCTION, 1), ("lcb_execution_o", TaskType.DEDUCTION, 1)]


def test_token_mean_groups_normalise_like_the_reference_micro_batches(tiny_policy):
    """loss.token_mean_group=g: the loss is the mean over consecutive groups of g sequences of
    each group's token mean (verl's per-micro-batch masked mean / gradient accumulation)."""
    import copy
    import dataclasses

    import torch

    from azr.rl.batch import make_policy_batch
    from azr.rl.config import LossConfig, OptimConfig
    from azr.rl.logprobs import policy_logprobs
    from azr.rl.update import group_token_weights, ppo_update, recompute_logprobs

    w = group_token_weights(torch.tensor([2.0, 6.0, 1.0, 1.0]), 2)
    assert torch.allclose(w, torch.tensor([10 / 16, 10 / 16, 10 / 4, 10 / 4]))
    assert float((w * torch.tensor([2.0, 6.0, 1.0, 1.0])).sum()) == 10.0  # the token count is kept
    assert torch.equal(group_token_weights(torch.tensor([2.0, 6.0]), 2), torch.ones(2))

    model, _ = tiny_policy
    g = torch.Generator().manual_seed(3)
    lens = [2, 7, 3, 1, 5, 4]
    prompts = [torch.randint(1, 2000, (4,), generator=g).tolist() for _ in lens]
    resps = [torch.randint(1, 2000, (k,), generator=g).tolist() for k in lens]
    batch = make_policy_batch(prompts, resps, 0, advantages=torch.randn(len(lens), generator=g))
    old, _ = recompute_logprobs(model, batch)
    batch = dataclasses.replace(batch, old_logprobs=old)

    ours = copy.deepcopy(model)
    optim = OptimConfig(ppo_mini_batch=0, grad_clip=None, micro_batch_tokens=16)
    ppo_update(ours, torch.optim.SGD(ours.parameters(), lr=1.0), None, batch,
               LossConfig(entropy_coef=0.0, token_mean_group=2), optim)

    ref = copy.deepcopy(model)
    lp, _ = policy_logprobs(ref, batch.input_ids, batch.attention_mask, batch.response_mask)
    per_token = -batch.advantages * torch.exp(lp - batch.old_logprobs) * batch.response_mask
    groups = [per_token[i:i + 2].sum() / batch.response_mask[i:i + 2].sum() for i in range(0, len(lens), 2)]
    (sum(groups) / len(groups)).backward()
    with torch.no_grad():
        for p in ref.parameters():
            if p.grad is not None:
                p -= p.grad
    for (n, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4), n
    plain = copy.deepcopy(model)
    ppo_update(plain, torch.optim.SGD(plain.parameters(), lr=1.0), None, batch,
               LossConfig(entropy_coef=0.0, token_mean_group=0), optim)
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(plain.parameters(), ours.parameters()))
