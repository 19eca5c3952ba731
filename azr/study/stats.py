"""The numbers of the study report: paired pass@k differences, metric trends with intervals,
and what the self-play samples say about the solver's signal. Pure functions over files
written by ``azr eval`` and the run loop."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import mean

from azr.eval.compare import paired_by_k
from azr.rl.rundir import read_metrics

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of a proportion (``(nan, nan)`` when n = 0)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def counts(summary: dict) -> dict[str, tuple[int, int]]:
    """``{task_id: (n, c)}`` of an ``azr eval`` summary."""
    return {r["task_id"]: (int(r["n"]), int(r["c"])) for r in summary["per_problem"]}


def load_summaries(eval_dir: str | Path, benchmarks) -> dict[str, dict]:
    """``{benchmark: summary}`` of the benchmarks evaluated under ``eval_dir``."""
    out = {}
    for b in benchmarks:
        path = Path(eval_dir) / b / "summary.json"
        if path.is_file():
            out[b] = json.loads(path.read_text())
    return out


def paired_vs(base: dict[str, tuple[int, int]], arm: dict[str, tuple[int, int]], ks) -> dict[int, dict]:
    """``{k: {"a", "b", "diff", "ci_low", "ci_high", "p_value", ...}}``: arm minus base, paired over
    problems (bootstrap CI, sign-flip test; ``azr.eval.compare.paired_by_k``)."""
    return {r["k"]: r for r in paired_by_k(base, arm, ks)}


def pooled(summaries: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """The per-problem counts of several benchmarks together (task ids are unique across them)."""
    out: dict[str, tuple[int, int]] = {}
    for s in summaries.values():
        out.update(counts(s))
    return out


def verdict(lo: float, hi: float, direction: int, margin: float = 0.02) -> str:
    """The study's rule for a claimed difference of sign ``direction`` (+1 / -1) with 95% interval
    ``[lo, hi]``: reproduced when the interval excludes 0 on the claimed side; contradicted when
    it excludes 0 on the other side or lies inside ``±margin`` (no effect of a size that matters);
    else inconclusive."""
    if any(math.isnan(x) for x in (lo, hi)):
        return "inconclusive"
    lo_d, hi_d = sorted((direction * lo, direction * hi))
    if lo_d > 0:
        return "reproduced"
    if hi_d < 0 or (-margin <= lo and hi <= margin):
        return "contradicted"
    return "inconclusive"


#: Fewest steps per end of a trend for an interval (fewer: the interval is NaN).
MIN_WINDOW = 3


def trend(rows: list[dict], key: str, frac: float = 0.25) -> dict | None:
    """Mean of ``key`` over the first and the last ``frac`` of steps, their difference and a
    normal 95% interval treating steps as independent draws (Welch; NaN with fewer than
    ``MIN_WINDOW`` steps per end); None without data."""
    vals = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    if len(vals) < 2:
        return None
    m = max(1, int(round(len(vals) * frac)))
    first, last = vals[:m], vals[-m:]
    d = mean(last) - mean(first)

    def var(xs):
        if len(xs) < 2:
            return 0.0
        mu = mean(xs)
        return sum((x - mu) ** 2 for x in xs) / (len(xs) - 1)

    se = math.sqrt(var(first) / len(first) + var(last) / len(last))
    if m < MIN_WINDOW:  # no honest interval from one or two points per end
        se = float("nan")
    return {"first": mean(first), "last": mean(last), "diff": d, "ci": [d - Z95 * se, d + Z95 * se],
            "steps": len(vals), "window": m}


GROUP_KEYS = [(role, task) for role in ("propose", "solve") for task in ("deduction", "abduction", "induction")]


def metric_trends(run_dir: str | Path) -> dict:
    """Entropy and response length per (role, task), first vs last quarter of steps."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = read_metrics(path) if path.is_file() else []
    out = {"steps": len(rows), "entropy": {}, "length": {}}
    for role, task in GROUP_KEYS:
        out["entropy"][f"{role}/{task}"] = trend(rows, f"entropy/{role}/{task}")
        out["length"][f"{role}/{task}"] = trend(rows, f"{role}/{task}/response_length_mean")
    out["entropy"]["overall"] = trend(rows, "entropy/overall")
    return out


def _task_key(task) -> str | None:
    return json.dumps(task, sort_keys=True) if isinstance(task, dict) else None


def signal(run_dir: str | Path) -> dict:
    """What the logged rollouts (``samples/step_*.jsonl``, every rollout when the arm logs all)
    say about the solver's learning signal:

    - solve rates of valid proposals: share with s = 0, s = 1 (no learnability reward), in (0, 1);
    - solver tasks that are fresh (proposed at this or the previous step) vs backfilled (older);
    - reward spread per (task, role) group and step: the share of groups whose rewards are all
      equal (zero advantage for every member under group normalisation) and the mean absolute
      deviation of the rewards from their group mean (the advantage mass before scaling)."""
    folder = Path(run_dir) / "samples"
    files = sorted(folder.glob("step_*.jsonl")) if folder.is_dir() else []
    rates: list[float] = []
    fresh = backfilled = 0
    groups = zero_groups = 0
    mass: dict[str, list[float]] = {}
    zero_by_group: dict[str, int] = {}
    proposed: dict[int, set] = {}
    steps: list[tuple[int, list[dict]]] = []
    for f in files:
        step = int(f.stem.split("_")[1])
        rows = []
        for line in f.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        steps.append((step, rows))
        proposed[step] = {_task_key(r.get("task")) for r in rows
                          if str(r.get("group", "")).startswith("propose/") and r.get("task") is not None}
    for step, rows in steps:
        by_group: dict[str, list[float]] = {}
        for r in rows:
            g = str(r.get("group", ""))
            if isinstance(r.get("reward"), (int, float)):
                by_group.setdefault(g, []).append(float(r["reward"]))
            if g.startswith("propose/") and isinstance(r.get("solve_rate"), (int, float)):
                rates.append(float(r["solve_rate"]))
            if g.startswith("solve/") and r.get("task") is not None:
                key = _task_key(r["task"])
                if key in proposed.get(step, set()) or key in proposed.get(step - 1, set()):
                    fresh += 1
                else:
                    backfilled += 1
        for g, rewards in by_group.items():
            groups += 1
            mu = mean(rewards)
            dev = mean(abs(x - mu) for x in rewards)
            zero_groups += dev == 0.0
            zero_by_group[g] = zero_by_group.get(g, 0) + (dev == 0.0)
            mass.setdefault(g, []).append(dev)
    n = len(rates)
    return {
        "steps_logged": len(steps),
        "proposals_with_solve_rate": n,
        "solve_rate_zero": sum(r == 0.0 for r in rates) / n if n else None,
        "solve_rate_one": sum(r == 1.0 for r in rates) / n if n else None,
        "solve_rate_between": sum(0.0 < r < 1.0 for r in rates) / n if n else None,
        "solver_tasks_fresh": fresh,
        "solver_tasks_backfilled": backfilled,
        "groups": groups,
        "groups_zero_spread": zero_groups,
        "reward_mad_per_group": {g: mean(v) for g, v in sorted(mass.items())},
        "zero_spread_steps_per_group": dict(sorted(zero_by_group.items())),
    }
