"""pass@k curves from ``azr eval`` summaries, base vs trained, with CIs and a paired test.

Reads ``summary.json`` files (format in ``azr.eval.results``): ``benchmark``, ``n``,
``pass@k`` and ``ci`` keyed by str(k), ``per_problem`` [{"task_id", "n", "c"}], ``model``.
Estimators and tests come from ``azr.eval.passk`` (one implementation in the project).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from azr.eval.compare import paired_by_k


class EvalResultError(ValueError):
    """An eval result path is missing or is not an ``azr eval`` summary."""


@dataclass(frozen=True)
class PasskCurve:
    """pass@k of one model on one benchmark."""

    label: str  # legend label: the model, or the result folder's name
    benchmark: str
    ks: tuple[int, ...]
    values: tuple[float, ...]  # pass@k at each k, in [0, 1]
    ci: tuple[tuple[float, float] | None, ...]  # CI per k when the summary has one
    per_problem: dict[str, tuple[int, int]] = field(default_factory=dict)  # task_id -> (n, c)
    source: str = ""


def summary_files(path: str | Path) -> list[Path]:
    """``summary.json`` files under a path: the file itself, ``DIR/summary.json``, or
    ``DIR/*/summary.json`` (an eval output folder with one sub-folder per benchmark)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if (p / "summary.json").is_file():
        return [p / "summary.json"]
    found = sorted(p.glob("*/summary.json")) if p.is_dir() else []
    if not found:
        raise EvalResultError(f"{p}: no summary.json (pass a summary file or an `azr eval` output folder)")
    return found


def _label(summary: dict, path: Path) -> str:
    model = summary.get("model")
    if isinstance(model, str) and model:
        parts = Path(model.rstrip("/")).parts
        # runs/x/checkpoints/step_000100 -> "x/step_000100"
        if len(parts) >= 3 and parts[-2] == "checkpoints":
            return f"{parts[-3]}/{parts[-1]}"
        return parts[-1] if parts else model
    return path.parent.name


def load_curve(path: Path, label: str | None = None) -> PasskCurve:
    try:
        s = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise EvalResultError(f"{path}: cannot read eval summary ({e})") from e
    if not isinstance(s, dict) or not isinstance(s.get("pass@k"), dict) or "benchmark" not in s:
        raise EvalResultError(f"{path}: not an `azr eval` summary (needs 'benchmark' and 'pass@k')")
    try:
        ks = sorted(int(k) for k in s["pass@k"])
    except ValueError as e:
        raise EvalResultError(f"{path}: pass@k keys must be integers ({e})") from e
    cis = s.get("ci") or {}
    per = {str(r["task_id"]): (int(r["n"]), int(r["c"])) for r in s.get("per_problem") or []
           if isinstance(r, dict) and {"task_id", "n", "c"} <= set(r)}
    return PasskCurve(
        label=label or _label(s, Path(path)), benchmark=str(s["benchmark"]), ks=tuple(ks),
        values=tuple(float(s["pass@k"][str(k)]) for k in ks),
        ci=tuple(tuple(cis[str(k)]) if str(k) in cis else None for k in ks),
        per_problem=per, source=str(path))


def load_curves(paths: list[str | Path], labels: list[str] | None = None) -> list[PasskCurve]:
    """Curves of every summary under ``paths`` (labels, if given, one per path)."""
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} eval results")
    out = []
    for i, p in enumerate(paths):
        for f in summary_files(p):
            out.append(load_curve(f, labels[i] if labels else None))
    return out


def by_benchmark(curves: list[PasskCurve]) -> dict[str, list[PasskCurve]]:
    out: dict[str, list[PasskCurve]] = {}
    for c in curves:
        out.setdefault(c.benchmark, []).append(c)
    return out


def compare(base: PasskCurve, other: PasskCurve, seed: int = 0) -> list[dict]:
    """Paired per-problem test of ``other`` vs ``base`` at every k both can estimate, on the
    problems both evaluated (``azr.eval.compare.paired_by_k``). [] when either summary lacks
    per-problem counts."""
    rows = paired_by_k(dict(sorted(base.per_problem.items())), other.per_problem,
                       set(base.ks) & set(other.ks), seed=seed)
    return [{"k": r["k"], "problems": r["problems"], "base": r["a"], "other": r["b"],
             **{k: v for k, v in r.items() if k not in ("k", "problems", "a", "b")}} for r in rows]


def comparisons(curves: list[PasskCurve]) -> dict[str, dict[str, list[dict]]]:
    """{benchmark: {label: rows}}: each curve vs the *first* curve of its benchmark (the base)."""
    out: dict[str, dict[str, list[dict]]] = {}
    for bench, cs in by_benchmark(curves).items():
        for c in cs[1:]:
            out.setdefault(bench, {})[c.label] = compare(cs[0], c)
    return out


def format_table(curves: list[PasskCurve]) -> str:
    lines = []
    for bench, cs in by_benchmark(curves).items():
        ks = sorted({k for c in cs for k in c.ks})
        lines.append(f"{bench}: pass@k in % [CI]")
        lines.append(f"  {'model':<30}" + "".join(f"{'k=' + str(k):>20}" for k in ks))
        for c in cs:
            row = f"  {c.label[:30]:<30}"
            for k in ks:
                if k not in c.ks:
                    row += f"{'-':>20}"
                    continue
                i = c.ks.index(k)
                ci = c.ci[i]
                cell = f"{100 * c.values[i]:.1f}" + (f" [{100 * ci[0]:.1f},{100 * ci[1]:.1f}]" if ci else "")
                row += f"{cell:>20}"
            lines.append(row)
        for label, rows in comparisons(curves).get(bench, {}).items():
            for r in rows:
                lines.append(f"  {label} vs {cs[0].label}, k={r['k']}: diff {100 * r['diff']:+.1f} pts "
                             f"(95% CI {100 * r['ci_low']:+.1f}..{100 * r['ci_high']:+.1f}), p={r['p_value']:.3g}, "
                             f"{r['wins']} better / {r['losses']} worse / {r['ties']} tied problems")
        lines.append("")
    return "\n".join(lines).rstrip()
