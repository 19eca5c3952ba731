"""pass@k estimator, bootstrap CIs and the paired test."""

from __future__ import annotations

import random
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr.eval.passk import (
    bootstrap_ci,
    default_ks,
    paired_test,
    pass_at_k,
    pass_at_k_table,
    per_problem_pass_at_k,
)


def exact(n: int, c: int, k: int) -> Fraction:
    """1 - C(n-c, k) / C(n, k) with big integers (C(a, k) = 0 when a < k)."""
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_matches_big_integer_formula_on_random_triples():
    rng = random.Random(0)
    for _ in range(2000):
        n = rng.randint(1, 1000)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), rel=1e-9, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_big_integer_formula_property(nck):
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), rel=1e-9, abs=1e-12)


def test_large_n_stays_finite_where_binomials_overflow_floats():
    # C(10000, 5000) has ~3000 digits; float(comb) would overflow.
    v = pass_at_k(10000, 3, 5000)
    assert v == pytest.approx(float(exact(10000, 3, 5000)), rel=1e-9)
    assert 0.0 <= v <= 1.0


def test_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(10, 1, 10) == 1.0  # n - c < k
    assert pass_at_k(5, 2, 4) == 1.0
    for bad in [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_pass_at_1_is_mean_accuracy():
    ns, cs = [8, 8, 8], [0, 3, 8]
    assert per_problem_pass_at_k(ns, cs, 1).tolist() == pytest.approx([0, 3 / 8, 1])


def test_default_ks():
    assert default_ks(1) == [1]
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(10) == [1, 2, 4, 8, 10]
    assert default_ks(0) == []


def test_table_uses_min_n_and_monotone_in_k():
    scores, cis = pass_at_k_table([16, 16, 10], [1, 5, 0])
    assert list(scores) == ["1", "2", "4", "8", "10"]
    values = list(scores.values())
    assert values == sorted(values)
    for k, (lo, hi) in cis.items():
        assert lo <= scores[k] <= hi


def test_bootstrap_ci_is_seeded_and_covers_mean():
    values = np.random.default_rng(1).random(200)
    a = bootstrap_ci(values, seed=3)
    assert a == bootstrap_ci(values, seed=3)
    assert a[0] < values.mean() < a[1]
    assert a[1] - a[0] < 0.2
    assert bootstrap_ci(np.ones(50)) == (1.0, 1.0)


def test_paired_test_detects_a_real_gap_and_not_a_null_one():
    rng = np.random.default_rng(0)
    a = rng.random(150)
    better = np.clip(a + 0.15, 0, 1)
    r = paired_test(a, better)
    assert r["diff"] > 0.1 and r["p_value"] < 0.001 and r["ci_low"] > 0
    noise = np.clip(a + rng.normal(0, 0.05, a.size), 0, 1)
    null = paired_test(a, a)
    assert null["p_value"] == 1.0 and null["diff"] == 0.0 and null["ties"] == a.size
    r2 = paired_test(a, noise)
    assert r2["p_value"] > 0.01
    with pytest.raises(ValueError):
        paired_test(a, a[:-1])
