"""Baseline plumbing: the generator-made dataset, batch order, config sections and overlays."""

from __future__ import annotations

from collections import Counter

import pytest

from azr.baselines.common import batch_indices
from azr.baselines.config import BaselineConfig, ControlsConfig, RLVRConfig, load_baseline_config
from azr.config import ConfigError
from azr.tasks import InductionTask, TaskType, parse_solution


def test_generated_dataset_is_balanced_correct_and_deterministic():
    from azr.baselines.generated import generated_problems
    from azr.executor import ExecutorConfig, Job, Sandbox

    with Sandbox(ExecutorConfig(workers=2)) as box:
        probs = generated_problems(12, seed=3, sandbox=box)
        again = generated_problems(12, seed=3, sandbox=box)
        assert probs == again
        assert Counter(p.task_type for p in probs) == {TaskType.DEDUCTION: 4, TaskType.ABDUCTION: 4,
                                                       TaskType.INDUCTION: 4}
        # Every stored output is what the program really returns (checked again in the sandbox).
        jobs = []
        for p in probs:
            pairs = p.task.pairs if isinstance(p.task, InductionTask) else [(p.task.input, p.task.output)]
            jobs += [(Job(code=p.task.program, expr=f"f({i})"), o) for i, o in pairs]
        results = box.run([j for j, _ in jobs])
        assert all(r.ok and r.value == o for r, (_, o) in zip(results, jobs))
    for p in probs:
        assert parse_solution(p.task_type, p.reference_completion()).answer == p.reference_answer().strip()
    assert generated_problems(3, seed=4)[0] != probs[0]  # starts its own sandbox when none is given


def test_batch_indices_cover_each_epoch_once_and_are_pure():
    n, per = 10, 4
    seq = [i for step in range(1, 6) for i in batch_indices(n, per, step, seed=0)]
    assert sorted(seq[:10]) == list(range(10)) and sorted(seq[10:20]) == list(range(10))
    assert batch_indices(n, per, 3, seed=0) == seq[8:12]
    assert batch_indices(n, per, 3, seed=1) != seq[8:12]
    assert len(batch_indices(3, 8, 1, seed=0)) == 8  # more prompts than problems wraps epochs
    with pytest.raises(ValueError):
        batch_indices(0, 4, 1, seed=0)


def test_command_overlays_and_presets():
    rlvr = load_baseline_config("rlvr", "tiny")
    sft = load_baseline_config("sft", "tiny")
    assert rlvr.advantage.estimator == "grpo" and sft.advantage.estimator == "trr++"
    assert rlvr.run.run_dir == "runs/tiny-rlvr" and sft.run.run_dir == "runs/tiny-sft"
    assert rlvr.rlvr.group_size == 4 and rlvr.model.path == "models/azr-tiny"
    # --set wins over the overlay; the self-play sections are the same dataclasses
    cfg = load_baseline_config("rlvr", "tiny", overrides=["advantage.estimator=rloo", "loss.entropy_coef=0.01",
                                                          "controls.explore_fraction=0.25"])
    assert cfg.advantage.estimator == "rloo" and cfg.loss.entropy_coef == 0.01
    assert isinstance(cfg, BaselineConfig) and cfg.controls.explore_fraction == 0.25
    # without a preset the checker needs a model folder (model.path has no default)
    with pytest.raises(ConfigError, match="model.path is empty"):
        load_baseline_config("rlvr")
    assert load_baseline_config("rlvr", overrides=["model.path=models/azr-tiny"]).rlvr == RLVRConfig()


@pytest.mark.parametrize("override, msg", [
    ("rlvr.group_size=0", "group_size must be >= 1"),
    ("rlvr.task_types=[deduction, proposal]", "task_types"),
    ("controls.explore_fraction=1.5", "explore_fraction"),
    ("controls.diversity_measure=cosine", "diversity_measure"),
    ("sft.source=teacher", "not one of"),
    ("rlvr.nope=1", "no key 'nope'"),
    ("advantage.estimator=ppo", "unknown 'ppo'"),
])
def test_bad_baseline_configs_fail_before_running(override, msg):
    with pytest.raises(ConfigError, match=msg):
        load_baseline_config("rlvr", "tiny", overrides=[override])


def test_controls_defaults_are_off():
    c = ControlsConfig()
    assert c.explore_fraction == 0.0 and c.diversity_weight == 0.0 and c.propose_temperature is None


def test_config_records_which_baseline_it_is_for():
    assert load_baseline_config("sft", "tiny").baseline == "sft"
    assert load_baseline_config("rlvr", overrides=["model.path=models/azr-tiny"]).baseline == "rlvr"
