"""Samples files in, results.jsonl / summary.json / a one-screen table out.

summary.json (read by ``azr report`` for pass@k curves; see docs/interfaces.md)::

    {"benchmark": "humanevalplus", "n": 10, "pass@k": {"1": 0.41, "2": ...},
     "ci": {"1": [lo, hi], ...}, "confidence": 0.95, "num_problems": 164, "label": "",
     "per_problem": [{"task_id": "HumanEval/0", "n": 10, "c": 7}, ...],
     "base": {"pass@k": {...}, "ci": {...}},            # EvalPlus sets: base tests only
     "model": "...", "samples": "...", "sampling": {...}, "created": "..."}
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from azr.eval.benchmarks import Problem
from azr.eval.passk import pass_at_k_table
from azr.eval.types import Sample, SampleResult


class SamplesError(ValueError):
    """A samples file is malformed or does not match the benchmark."""


def read_samples(path: str | Path, problems: dict[str, Problem]) -> list[Sample]:
    """Read a human-eval/EvalPlus samples file: one ``{"task_id", "completion"|"solution"}``
    per line; repeated task ids are successive samples. Optional ``"index"`` is respected."""
    path = Path(path)
    if not path.is_file():
        raise SamplesError(f"samples file not found: {path}")
    counters: dict[str, int] = defaultdict(int)
    samples = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise SamplesError(f"{path}:{lineno}: not JSON ({exc})") from exc
            if not isinstance(rec, dict) or "task_id" not in rec:
                raise SamplesError(f"{path}:{lineno}: needs a 'task_id'")
            tid = str(rec["task_id"])
            if tid not in problems:
                raise SamplesError(f"{path}:{lineno}: task_id {tid!r} is not in this benchmark")
            completion, solution = rec.get("completion"), rec.get("solution")
            if completion is None and solution is None:
                raise SamplesError(f"{path}:{lineno}: needs 'completion' or 'solution'")
            for key, value in (("completion", completion), ("solution", solution)):
                if value is not None and not isinstance(value, str):
                    raise SamplesError(f"{path}:{lineno}: '{key}' must be a string")
            index = rec.get("index", counters[tid])
            counters[tid] = max(counters[tid], int(index)) + 1
            samples.append(Sample(tid, int(index), completion or "", solution))
    if not samples:
        raise SamplesError(f"{path}: no samples")
    return samples


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def samples_records(samples: Sequence[Sample], extra: dict[str, dict] | None = None) -> list[dict]:
    out = []
    for s in samples:
        rec: dict[str, Any] = {"task_id": s.task_id, "index": s.index, "completion": s.completion}
        if s.solution is not None:
            rec["solution"] = s.solution
        if extra and (s.task_id, s.index) in extra:
            rec.update(extra[(s.task_id, s.index)])
        out.append(rec)
    return out


def summarize(
    benchmark: str,
    results: Sequence[SampleResult],
    *,
    ks: Sequence[int] | None = None,
    label: str = "",
    confidence: float = 0.95,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """summary.json content from per-sample results (problems in first-seen order)."""
    counts: dict[str, list[int]] = {}
    for r in results:
        n_c_b = counts.setdefault(r.task_id, [0, 0, 0])
        n_c_b[0] += 1
        n_c_b[1] += int(r.passed)
        n_c_b[2] += int(bool(r.extra.get("base_passed", r.passed)))
    ns = [v[0] for v in counts.values()]
    cs = [v[1] for v in counts.values()]
    scores, cis = pass_at_k_table(ns, cs, ks, confidence=confidence, seed=seed)
    summary: dict[str, Any] = {
        "benchmark": benchmark,
        "n": min(ns) if ns else 0,
        "pass@k": scores,
        "ci": cis,
        "confidence": confidence,
        "num_problems": len(counts),
        "num_samples": len(results),
        "label": label,
        "per_problem": [{"task_id": t, "n": v[0], "c": v[1]} for t, v in counts.items()],
    }
    if any("base_passed" in r.extra for r in results):
        base_cs = [v[2] for v in counts.values()]
        b_scores, b_cis = pass_at_k_table(ns, base_cs, ks, confidence=confidence, seed=seed)
        summary["base"] = {"pass@k": b_scores, "ci": b_cis}
        for row, v in zip(summary["per_problem"], counts.values()):
            row["c_base"] = v[2]
    summary["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    summary.update(meta or {})
    return summary


def format_table(summaries: Sequence[dict[str, Any]]) -> str:
    """One screen: a row per benchmark, a column per k (value and CI)."""
    ks = sorted({int(k) for s in summaries for k in s["pass@k"]})
    head = f"{'benchmark':<18}{'n':>5}{'probs':>7}  " + "".join(f"{'pass@' + str(k):>18}" for k in ks)
    lines = [head, "-" * len(head)]
    for s in summaries:
        row = f"{s['benchmark']:<18}{s['n']:>5}{s['num_problems']:>7}  "
        for k in ks:
            v = s["pass@k"].get(str(k))
            if v is None:
                row += f"{'-':>18}"
            else:
                lo, hi = s["ci"][str(k)]
                row += f"{100 * v:>7.1f} [{100 * lo:4.1f},{100 * hi:5.1f}]"
        lines.append(row)
        if "base" in s:
            row = f"{'  (base tests)':<18}{'':>5}{'':>7}  "
            for k in ks:
                v = s["base"]["pass@k"].get(str(k))
                row += f"{'-':>18}" if v is None else f"{100 * v:>7.1f}{'':>11}"
            lines.append(row)
        if s.get("label"):
            lines.append(f"  note: {s['benchmark']} scores are on {s['label']}")
    lines.append(f"pass@k in %, [{int(100 * summaries[0]['confidence'])}% bootstrap CI over problems]"
                 if summaries else "")
    return "\n".join(lines)


def write_outputs(out_dir: Path, samples_recs: list[dict], results: Sequence[SampleResult],
                  summary: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "samples.jsonl", samples_recs)
    write_jsonl(out_dir / "results.jsonl", (r.to_dict() for r in results))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
