"""Task buffers: de-duplication, step tags, cap policies that keep accepting, persistence."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr.selfplay.buffer import Buffers, TaskBuffer
from azr.tasks.types import ZERO_TRIPLET, InductionTask, TaskType, Triplet


def trip(k: int) -> Triplet:
    return Triplet(f"def f(a):\n    return a + {k}", "1", str(1 + k))


def test_dedup_by_content_hash_and_step_tags():
    b = TaskBuffer("deduction")
    assert b.add(trip(1), step=3, solve_rate=0.5)
    assert not b.add(trip(1), step=4)  # same content: no-op
    assert b.add(trip(2), step=4)
    assert len(b) == 2 and [e.step for e in b.entries] == [3, 4]
    assert [e.task for e in b.from_step(4)] == [trip(2)]


def test_wrong_task_kind_rejected():
    with pytest.raises(TypeError):
        TaskBuffer("induction").add(trip(1), 0)


def test_newest_policy_keeps_accepting_when_full():
    # The reference code stopped accepting programs once full; ours keeps the newest.
    b = TaskBuffer("deduction", cap=3, policy="newest")
    for k in range(10):
        assert b.add(trip(k), step=k)
    assert len(b) == 3
    assert [e.step for e in b.entries] == [7, 8, 9]
    assert b.add(trip(0), step=10)  # an evicted task can come back


def test_reservoir_policy_keeps_accepting_and_is_seeded():
    def fill(seed):
        b = TaskBuffer("deduction", cap=5, policy="reservoir", seed=seed)
        for k in range(200):
            b.add(trip(k), step=k)
        return b

    a, b = fill(1), fill(1)
    assert [e.step for e in a.entries] == [e.step for e in b.entries]  # reproducible
    assert len(a) == 5 and a.n_seen == 200
    assert max(e.step for e in a.entries) >= 5  # later programs do get in
    assert [e.step for e in fill(2).entries] != [e.step for e in a.entries]


def test_sampling_is_seeded():
    b = TaskBuffer("abduction")
    for k in range(20):
        b.add(trip(k), 0)
    s1 = [e.task for e in b.sample(6, random.Random(7))]
    s2 = [e.task for e in b.sample(6, random.Random(7))]
    assert s1 == s2 and len(s1) == 6
    assert len({e.hash for e in b.sample_distinct(6, random.Random(0))}) == 6
    assert TaskBuffer("abduction").sample(3, random.Random(0)) == []


def test_persistence_roundtrip(tmp_path):
    bufs = Buffers(cap=4, policy="reservoir", seed=3)
    bufs.seed_zero()
    for k in range(9):
        bufs["deduction"].add(trip(k), step=k, solve_rate=k / 8)
    bufs["induction"].add(InductionTask("def f(a):\n    return -a", (("1", "-1"), ("2", "-2")), "negate"), 5)
    bufs.save(tmp_path)
    lines = (tmp_path / "deduction.jsonl").read_text().splitlines()
    assert len(lines) == 4 and '"step"' in lines[0] and '"hash"' in lines[0]
    again = Buffers(cap=4, policy="reservoir", seed=3)
    again.load(tmp_path)
    for t in TaskType:
        assert again[t].entries == bufs[t].entries
        assert again[t].n_seen == bufs[t].n_seen
    # the reservoir continues identically after a reload
    bufs["deduction"].add(trip(50), 50)
    again["deduction"].add(trip(50), 50)
    assert again["deduction"].entries == bufs["deduction"].entries


def test_seed_zero_and_programs():
    bufs = Buffers()
    bufs.seed_zero()
    assert bufs["deduction"].entries[0].task == ZERO_TRIPLET
    assert bufs["deduction"].entries[0].step == -1
    assert len(bufs["induction"].entries[0].task.hidden) >= 1
    assert bufs.programs() == [ZERO_TRIPLET.program]


def test_corrupt_buffer_file_gives_clear_error(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"type": "deduction"}\n')
    with pytest.raises(ValueError, match="x.jsonl:1"):
        TaskBuffer("deduction").load_jsonl(tmp_path / "x.jsonl")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=80), st.integers(0, 6), st.sampled_from(["newest", "reservoir"]))
def test_cap_invariants(keys, cap, policy):
    b = TaskBuffer("deduction", cap=cap, policy=policy, seed=5)
    for step, k in enumerate(keys):
        b.add(trip(k), step)
    hashes = [e.hash for e in b.entries]
    assert len(hashes) == len(set(hashes))  # never a duplicate
    distinct = len(set(keys))
    assert len(b) == (min(cap, distinct) if cap else distinct) or policy == "reservoir"
    assert len(b) <= (cap or len(keys))
    if cap and policy == "newest" and keys:
        assert trip(keys[-1]) in b  # the newest program is always there
