"""One table row per finished ``azr study`` folder: what a setting does to the solver.

For each study folder (``azr study ... --out DIR``) and each of its arms: pass@1 on gen-o /
gen-i / gen-f and pooled, arm minus base, paired 95% bootstrap intervals over problems; the
solver-signal statistics of a self-play arm (groups with all rewards equal, i.e. zero
advantage; share of valid proposals with solve rate 0); training seconds per step. The sweep
of issue 19 (BENCHMARKS.md "Toy-scale study") is ``benchmarks/study_sweep.sh`` followed by::

    .venv/bin/python benchmarks/study_sweep.py runs/sweep/S0 runs/sweep/S1 ...
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from azr.study import stats
from azr.study.config import GEN_BENCHMARKS


def _fmt(r: dict) -> str:
    return f"{100 * r['diff']:+.1f} [{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}]"


def rows(folder: Path) -> list[str]:
    study = json.loads((folder / "study.json").read_text())
    cfg = study["config"]
    base = stats.load_summaries(study["evals"]["base"], GEN_BENCHMARKS)
    out = []
    for arm in cfg["arms"]:
        run = folder / arm
        arm_s = stats.load_summaries(study["evals"][arm], GEN_BENCHMARKS)
        cells = []
        for b in GEN_BENCHMARKS:
            r = stats.paired_vs(stats.counts(base[b]), stats.counts(arm_s[b]), [1])[1]
            cells.append(f"{100 * r['a']:.1f} -> {100 * r['b']:.1f}: {_fmt(r)}")
        pooled = stats.paired_vs(stats.pooled(base), stats.pooled(arm_s), [1])[1]
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        step_s = statistics.mean(m["time/step"] for m in metrics[1:] if "time/step" in m) if len(metrics) > 1 else None
        sig = stats.signal(run)
        zero = (f"{sig['groups_zero_spread']} of {sig['groups']}; s=0 {100 * sig['solve_rate_zero']:.0f}%"
                if sig["groups"] and sig["solve_rate_zero"] is not None else "n/a")
        sets = " ".join(s for s in cfg["sets"] if s != "optim.lr=1.0e-4") or "(preset)"
        out.append(f"| {folder.name} | {arm} | {sets} | {cfg['steps']} | {cfg['seed']} | " + " | ".join(cells)
                   + f" | {_fmt(pooled)} | {zero} | " + (f"{step_s:.1f} |" if step_s else "n/a |"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="azr study output folders (each with study.json)")
    args = ap.parse_args(argv)
    print("| study | arm | settings (besides lr 1e-4) | steps | seed | gen-o pass@1 | gen-i pass@1 | gen-f pass@1 "
          "| pooled Δ pass@1 | zero-advantage groups; proposals at s = 0 | s/step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for f in args.folders:
        path = Path(f)
        if not (path / "study.json").is_file():
            print(f"study_sweep: {path}: no study.json (is the study finished?)", file=sys.stderr)
            return 2
        for line in rows(path):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
