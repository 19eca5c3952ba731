"""pass@k: the unbiased estimator, bootstrap confidence intervals, paired comparison.

For a problem with ``n`` samples of which ``c`` pass, the unbiased estimator of pass@k
(Chen et al. 2021) is ``1 - C(n-c, k) / C(n, k)``. The binomials overflow floats for large
n, so it is evaluated in the stable product form
``1 - prod_{i=n-c+1}^{n} (1 - k / i)`` (and exactly 1 when ``n - c < k``).
A benchmark's pass@k is the mean over problems.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct out of ``n`` samples (1 <= k <= n)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def default_ks(n: int) -> list[int]:
    """k = 1, 2, 4, ... <= n, plus n itself."""
    if n < 1:
        return []
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def per_problem_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> np.ndarray:
    """pass@k of each problem. ns, cs: [P] sample and correct counts -> [P] float64."""
    if len(ns) != len(cs):
        raise ValueError("ns and cs differ in length")
    return np.array([pass_at_k(int(n), int(c), k) for n, c in zip(ns, cs)], dtype=np.float64)


def bootstrap_ci(
    values: np.ndarray, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` ([P]) resampling problems."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(resamples, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def pass_at_k_table(
    ns: Sequence[int],
    cs: Sequence[int],
    ks: Sequence[int] | None = None,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Benchmark pass@k and bootstrap CIs for every k <= min(ns).

    Returns ``({"1": 0.31, ...}, {"1": [lo, hi], ...})`` keyed by str(k).
    """
    if not ns:
        return {}, {}
    n_min = min(int(n) for n in ns)
    ks = default_ks(n_min) if ks is None else [k for k in ks if 1 <= k <= n_min]
    scores, cis = {}, {}
    for k in ks:
        values = per_problem_pass_at_k(ns, cs, k)
        scores[str(k)] = float(values.mean())
        cis[str(k)] = list(bootstrap_ci(values, confidence=confidence, resamples=resamples, seed=seed))
    return scores, cis


def paired_test(
    a: np.ndarray, b: np.ndarray, *, resamples: int = 10000, seed: int = 0
) -> dict[str, float]:
    """Is mean(b - a) different from 0? a, b: [P] per-problem scores of the same problems.

    Two-sided sign-flip permutation test (exact in distribution under the null that each
    problem's difference is symmetric around 0) plus a bootstrap 95% CI of the mean
    difference. Returns {"diff", "p_value", "ci_low", "ci_high", "wins", "losses", "ties"}.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores differ in shape: {a.shape} vs {b.shape}")
    d = b - a
    observed = float(d.mean()) if d.size else 0.0
    rng = np.random.default_rng(seed)
    if d.size and np.any(d != 0):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, d.size))
        null = (signs * d).mean(axis=1)
        extreme = int(np.sum(np.abs(null) >= abs(observed) - 1e-12))
        p_value = (extreme + 1) / (resamples + 1)
    else:
        p_value = 1.0
    lo, hi = bootstrap_ci(d, resamples=2000, seed=seed)
    return {
        "diff": observed,
        "p_value": float(p_value),
        "ci_low": lo,
        "ci_high": hi,
        "wins": int(np.sum(d > 0)),
        "losses": int(np.sum(d < 0)),
        "ties": int(np.sum(d == 0)),
    }
