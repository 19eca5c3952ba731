"""Proposer diversity penalty (R-Zero-style BLEU clustering): pure, deterministic functions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr.selfplay.diversity import (
    apply_penalty,
    bleu,
    cluster,
    diversity_penalty,
    penalise_near_duplicates,
    similarity,
    tokenize,
)

P1 = "def f(nums):\n    return sorted(nums)[::-1]"
P1_RENAMED_CONST = "def f(nums):\n    return sorted(nums)[::-2]"
P2 = "def f(s):\n    out = ''\n    for ch in s:\n        out += ch.upper()\n    return out"
P3 = "def g(v):\n    return v * 3\n\ndef f(n):\n    return g(n) % 7 + len(str(n))"


def test_bleu_basic_properties():
    a = tokenize(P1)
    assert bleu(a, a) == pytest.approx(1.0)
    assert bleu([], a) == 0.0 and bleu(a, []) == 0.0
    assert bleu(tokenize("x y z"), tokenize("p q r")) == 0.0
    # A one-token edit keeps high similarity; an unrelated program has low similarity.
    assert similarity("bleu", P1, P1_RENAMED_CONST) > 0.6
    assert similarity("bleu", P1, P2) < 0.3
    assert similarity("bleu", P1, P2) == pytest.approx(similarity("bleu", P2, P1))
    assert similarity("jaccard", P1, P1) == 1.0
    with pytest.raises(ValueError, match="unknown similarity"):
        similarity("cosine", P1, P2)


def test_whitespace_does_not_matter():
    assert tokenize("def f(a):\n    return a+1") == tokenize("def  f( a ):\n\treturn a + 1")


def test_clusters_group_near_duplicates():
    texts = [P1, P2, P1_RENAMED_CONST, P3, P1]
    labels = cluster(texts, threshold=0.4)
    assert labels == [0, 1, 0, 2, 0]
    # Threshold 0 only merges exact duplicates; threshold 1 merges everything.
    assert cluster(texts, 0.0) == [0, 1, 2, 3, 0]
    assert cluster(texts, 1.0) == [0] * 5
    for linkage in ("single", "complete", "average"):
        assert cluster(texts, 0.4, linkage=linkage) == [0, 1, 0, 2, 0]
    with pytest.raises(ValueError):
        cluster(texts, 0.4, linkage="ward")
    with pytest.raises(ValueError):
        cluster(texts, 1.5)


def test_penalty_is_cluster_size_over_batch():
    texts = [P1, P2, P1_RENAMED_CONST, P3, P1]
    pen = diversity_penalty(texts, threshold=0.4, weight=1.0)
    assert pen == pytest.approx([3 / 5, 1 / 5, 3 / 5, 1 / 5, 3 / 5])
    assert diversity_penalty([], threshold=0.4) == []
    assert diversity_penalty(texts, weight=0.0) == [0.0] * 5
    # Duplicates lower the reward of exactly the duplicated proposals, relative to the others.
    rewards = apply_penalty([0.5] * 5, pen, floor=None)
    assert rewards[0] < rewards[1] and rewards[0] == rewards[2] == rewards[4]


def test_apply_penalty_floor_never_raises_a_reward():
    assert apply_penalty([0.5, 0.1, -0.5], [0.2, 0.4, 0.2]) == pytest.approx([0.3, 0.0, -0.5])
    assert apply_penalty([0.1], [0.4], floor=None) == pytest.approx([-0.3])
    with pytest.raises(ValueError):
        apply_penalty([0.1], [0.1, 0.2])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([P1, P2, P3, P1_RENAMED_CONST, "def f(a):\n    return a"]), min_size=1, max_size=8),
       st.floats(0.0, 1.0))
def test_labels_are_a_partition_and_identical_texts_share_a_cluster(texts, threshold):
    labels = cluster(texts, threshold)
    assert sorted(set(labels)) == list(range(len(set(labels))))
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            if a == b:
                assert labels[i] == labels[j]
    pen = diversity_penalty(texts, threshold=threshold)
    assert all(1 / len(texts) - 1e-12 <= p <= 1.0 + 1e-12 for p in pen)


def test_penalise_near_duplicates_only_touches_valid_proposals():
    texts = [P1, P1, "garbage", P2]
    rewards = [0.5, 0.5, -1.0, 0.5]
    new, m = penalise_near_duplicates(texts, rewards, [True, True, False, True], weight=0.3, threshold=0.4)
    assert new == pytest.approx([0.5 - 0.2, 0.5 - 0.2, -1.0, 0.5 - 0.1])
    assert m["diversity/clusters"] == 2 and m["diversity/duplicate_rate"] == pytest.approx(2 / 3)
    assert penalise_near_duplicates(texts, rewards, [False] * 4, weight=1.0) == (rewards, {})
    with pytest.raises(ValueError):
        penalise_near_duplicates(texts, rewards[:2], [True] * 4, weight=1.0)


def test_fast_bleu_matrix_equals_pairwise_bleu():
    from azr.selfplay.diversity import _bleu_matrix, _bleu_similarity
    from azr.tasks.generator import generate_programs

    texts = [g.program for g in generate_programs(12, seed=5)] + [P1, P1_RENAMED_CONST, "", "x"]
    fast = _bleu_matrix(texts)
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            if i != j:
                assert fast[i][j] == pytest.approx(_bleu_similarity(a, b), abs=1e-12)


def test_selfplay_hooks_penalise_duplicates_per_task_type_and_set_proposer_temperature():
    from azr.selfplay.controls import apply_diversity_penalty, proposer_sampling
    from azr.selfplay.config import ControlsConfig
    from azr.rollout.config import RolloutConfig
    from azr.rollout.types import Completion
    from azr.selfplay.rollouts import Rollout
    from azr.tasks import Role, TaskType

    c = Completion((1,), "", (0.0,), "eos")

    def prop(t, task, outcome="passable", reward=0.5):
        return Rollout(t, Role.PROPOSE, "p", c, reward, outcome=outcome, task=task)

    ded = {"program": P1, "input": "[1, 2]", "output": "[2, 1]"}
    rollouts = [
        prop(TaskType.DEDUCTION, ded), prop(TaskType.DEDUCTION, ded),
        prop(TaskType.DEDUCTION, {"program": P2, "input": "'ab'", "output": "'AB'"}),
        prop(TaskType.DEDUCTION, None, "format_error", -1.0),
        prop(TaskType.INDUCTION, {"program": P3, "inputs": ["1", "2"], "outputs": ["4", "5"], "message": "m"}),
        Rollout(TaskType.DEDUCTION, Role.SOLVE, "s", c, 1.0, outcome="passable", correct=True),
    ]
    assert apply_diversity_penalty(rollouts, ControlsConfig()) == {}  # off by default
    assert [r.reward for r in rollouts] == [0.5, 0.5, 0.5, -1.0, 0.5, 1.0]
    m = apply_diversity_penalty(rollouts, ControlsConfig(diversity_weight=0.3, diversity_threshold=0.4))
    assert [r.reward for r in rollouts] == pytest.approx([0.3, 0.3, 0.4, -1.0, 0.2, 1.0])
    assert m["diversity/deduction/clusters"] == 2 and m["diversity/induction/clusters"] == 1
    assert rollouts[0].reward_before_diversity == 0.5

    rc = RolloutConfig(temperature=1.0, max_new_tokens=32, stop=("</answer>",))
    assert proposer_sampling(rc, ControlsConfig(), 1, 7).temperature == 1.0
    p = proposer_sampling(rc, ControlsConfig(propose_temperature=1.3), 2, 7)
    assert (p.temperature, p.n, p.seed, p.stop, p.max_new_tokens) == (1.3, 2, 7, ("</answer>",), 32)
