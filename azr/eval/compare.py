"""``azr eval compare A B``: per-k differences of two evaluations, paired over problems."""

from __future__ import annotations

from typing import Any

from azr.eval.passk import paired_test, per_problem_pass_at_k


def compare(a: dict[str, Any], b: dict[str, Any], *, resamples: int = 10000,
            seed: int = 0) -> dict[str, Any]:
    """B minus A for every k both can estimate, on the problems both evaluated.

    Each problem's pass@k is recomputed from its counts (n, c), so A and B may use
    different n; the paired sign-flip test asks whether the mean difference is 0.
    """
    if a["benchmark"] != b["benchmark"]:
        raise ValueError(f"different benchmarks: {a['benchmark']} vs {b['benchmark']}")
    rows_a = {r["task_id"]: r for r in a["per_problem"]}
    rows_b = {r["task_id"]: r for r in b["per_problem"]}
    common = [t for t in rows_a if t in rows_b]
    if not common:
        raise ValueError("the two evaluations share no problems")
    na = [rows_a[t]["n"] for t in common]
    nb = [rows_b[t]["n"] for t in common]
    k_max = min(min(na), min(nb))
    ks = sorted({int(k) for k in a["pass@k"]} & {int(k) for k in b["pass@k"]})
    ks = [k for k in ks if k <= k_max]
    per_k = {}
    for k in ks:
        sa = per_problem_pass_at_k(na, [rows_a[t]["c"] for t in common], k)
        sb = per_problem_pass_at_k(nb, [rows_b[t]["c"] for t in common], k)
        test = paired_test(sa, sb, resamples=resamples, seed=seed)
        per_k[str(k)] = {"a": float(sa.mean()), "b": float(sb.mean()), **test}
    return {
        "benchmark": a["benchmark"],
        "num_problems": len(common),
        "only_in_a": len(rows_a) - len(common),
        "only_in_b": len(rows_b) - len(common),
        "per_k": per_k,
    }


def format_comparison(result: dict[str, Any], name_a: str = "A", name_b: str = "B",
                      alpha: float = 0.05) -> str:
    head = (f"{result['benchmark']}: {name_b} - {name_a} on {result['num_problems']} paired problems"
            f" (sign-flip permutation test, bootstrap 95% CI)")
    cols = f"{'k':>5}{name_a[:10]:>11}{name_b[:10]:>11}{'diff':>9}{'95% CI':>18}{'p':>9}  w/l/t"
    lines = [head, cols, "-" * len(cols)]
    for k, r in result["per_k"].items():
        mark = " *" if r["p_value"] < alpha else ""
        lines.append(
            f"{k:>5}{100 * r['a']:>11.2f}{100 * r['b']:>11.2f}{100 * r['diff']:>+9.2f}"
            f"  [{100 * r['ci_low']:>+6.2f},{100 * r['ci_high']:>+6.2f}]{r['p_value']:>9.4f}"
            f"  {r['wins']}/{r['losses']}/{r['ties']}{mark}"
        )
    if result["only_in_a"] or result["only_in_b"]:
        lines.append(f"unpaired problems ignored: {result['only_in_a']} only in {name_a}, "
                     f"{result['only_in_b']} only in {name_b}")
    lines.append(f"pass@k in %; * p < {alpha}")
    return "\n".join(lines)
