"""``azr eval compare A B``: per-k differences of two evaluations, paired over problems."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from azr.eval.passk import paired_test, per_problem_pass_at_k


def paired_by_k(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]], ks, *,
                resamples: int = 10000, seed: int = 0) -> list[dict[str, Any]]:
    """Paired per-problem comparison of two evaluations at each k of ``ks`` they can estimate.

    ``a``, ``b``: ``{task_id: (n, c)}`` (samples, correct) per problem; only the problems in
    both count (in ``a``'s order). Each problem's pass@k is recomputed from its counts, so
    ``a`` and ``b`` may use different n; k must not exceed the smallest n. Returns one row per
    k: ``{"k", "problems", "a", "b", **paired_test}`` (the sign-flip test of mean(b - a) = 0);
    [] when the evaluations share no problem."""
    common = [t for t in a if t in b]
    if not common:
        return []
    na = [a[t][0] for t in common]
    nb = [b[t][0] for t in common]
    k_max = min(min(na), min(nb))
    rows = []
    for k in sorted(int(k) for k in ks):
        if k > k_max:
            continue
        sa = per_problem_pass_at_k(na, [a[t][1] for t in common], k)
        sb = per_problem_pass_at_k(nb, [b[t][1] for t in common], k)
        rows.append({"k": k, "problems": len(common), "a": float(sa.mean()), "b": float(sb.mean()),
                     **paired_test(sa, sb, resamples=resamples, seed=seed)})
    return rows


def compare(a: dict[str, Any], b: dict[str, Any], *, resamples: int = 10000,
            seed: int = 0) -> dict[str, Any]:
    """B minus A for every k both can estimate, on the problems both evaluated (``paired_by_k``)."""
    if a["benchmark"] != b["benchmark"]:
        raise ValueError(f"different benchmarks: {a['benchmark']} vs {b['benchmark']}")
    counts_a = {r["task_id"]: (r["n"], r["c"]) for r in a["per_problem"]}
    counts_b = {r["task_id"]: (r["n"], r["c"]) for r in b["per_problem"]}
    ks = {int(k) for k in a["pass@k"]} & {int(k) for k in b["pass@k"]}
    rows = paired_by_k(counts_a, counts_b, ks, resamples=resamples, seed=seed)
    common = sum(t in counts_b for t in counts_a)
    if not common:
        raise ValueError("the two evaluations share no problems")
    return {
        "benchmark": a["benchmark"],
        "num_problems": common,
        "only_in_a": len(counts_a) - common,
        "only_in_b": len(counts_b) - common,
        "per_k": {str(r.pop("k")): {k: v for k, v in r.items() if k != "problems"} for r in rows},
    }


#: File stems that name no run (``A/summary.json``): a column is then labelled by its folders.
GENERIC_STEMS = ("summary", "results", "scores", "eval")


def run_labels(paths) -> list[str]:
    """Column labels of evaluations given by path: the shortest trailing part of each path
    (a generic file name like ``summary.json`` dropped) that tells them apart, e.g.
    ``runs/a/eval/summary.json``, ``runs/b/eval/summary.json`` -> ``a/eval``, ``b/eval``;
    paths that cannot be told apart get ``#1``, ``#2``."""
    parts = []
    for p in paths:
        pp = PurePath(p)
        items = [*pp.parent.parts, pp.stem if pp.suffix == ".json" else pp.name]
        if len(items) > 1 and items[-1].lower() in GENERIC_STEMS:
            items = items[:-1]
        parts.append([x for x in items if x not in ("/", ".", "")] or [str(p)])
    labels = [x[-1] for x in parts]
    for depth in range(1, max(len(x) for x in parts) + 1):
        labels = ["/".join(x[-depth:]) for x in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f"#{i + 1}" for i in range(len(labels))]


def format_comparison(result: dict[str, Any], name_a: str = "A", name_b: str = "B",
                      alpha: float = 0.05) -> str:
    head = (f"{result['benchmark']}: {name_b} - {name_a} on {result['num_problems']} paired problems"
            f" (sign-flip permutation test, bootstrap 95% CI)")
    wa, wb = max(11, len(name_a) + 1), max(11, len(name_b) + 1)  # each column headed by its run's full label
    cols = f"{'k':>5}{name_a:>{wa}}{name_b:>{wb}}{'diff':>9}{'95% CI':>18}{'p':>9}  w/l/t"
    lines = [head, cols, "-" * len(cols)]
    for k, r in result["per_k"].items():
        mark = " *" if r["p_value"] < alpha else ""
        lines.append(
            f"{k:>5}{100 * r['a']:>{wa}.2f}{100 * r['b']:>{wb}.2f}{100 * r['diff']:>+9.2f}"
            f"  [{100 * r['ci_low']:>+6.2f},{100 * r['ci_high']:>+6.2f}]{r['p_value']:>9.4f}"
            f"  {r['wins']}/{r['losses']}/{r['ties']}{mark}"
        )
    if result["only_in_a"] or result["only_in_b"]:
        lines.append(f"unpaired problems ignored: {result['only_in_a']} only in {name_a}, "
                     f"{result['only_in_b']} only in {name_b}")
    lines.append(f"pass@k in %; * p < {alpha}")
    return "\n".join(lines)
