"""Seconds per self-play step on the tiny preset, with the share of each phase.

Runs ``azr train --preset tiny`` (in-process, into a temporary run directory) for a few
steps and summarises ``time/*`` from ``metrics.jsonl``. The first step is reported apart
(warm-up). Usage::

    .venv/bin/python benchmarks/selfplay.py [--steps 4] [--set key=value ...]

With ``models/azr-tiny`` absent, the tiny preset falls back to a random-initialised tiny
model (the log says so); its responses run to the token limit, which is the slow case.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

PHASES = ("propose", "solve_rate", "solve", "execute", "update", "validate", "checkpoint")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    from azr.config import load_config
    from azr.selfplay.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("tiny", None, [f"selfplay.steps={args.steps}", f"run.run_dir={tmp}/run",
                                         "run.progress=false", *args.overrides])
        t0 = time.perf_counter()
        run_dir = train(cfg)
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
        model = (Path(run_dir) / "base_model").is_dir() and "random-init tiny (fallback)" or cfg.model.path

    print(f"# azr train --preset tiny: {args.steps} steps ({platform.machine()}, {time.strftime('%Y-%m-%d')})")
    print(f"model: {model}; overrides: {args.overrides or 'none'}; wall incl. set-up {wall:.1f} s")
    steady = rows[1:] or rows
    # time/step covers everything but the checkpoint, which is reported in the next row.
    totals = [r["time/step"] + (r.get("time/checkpoint") or 0.0) for r in steady]
    mean_step = statistics.mean(totals)
    print(f"first step {rows[0]['time/step']:.2f} s; steps 2..{len(rows)}: mean {mean_step:.2f} s/step "
          f"(min {min(totals):.2f}, max {max(totals):.2f}; validation and checkpoints amortised)")
    print("| phase | s/step | share |")
    print("|---|---|---|")
    accounted = 0.0
    for ph in PHASES:
        m = statistics.mean(r.get(f"time/{ph}", 0.0) or 0.0 for r in steady)
        accounted += m
        print(f"| {ph} | {m:.2f} | {100 * m / mean_step:.0f}% |")
    other = mean_step - accounted
    print(f"| other (prompts, parsing, metrics, buffers) | {other:.2f} | {100 * other / mean_step:.0f}% |")
    tok = statistics.mean(r["tokens_per_s"] for r in steady)
    gen = statistics.mean(r["tokens/generated"] for r in steady)
    print(f"generated tokens/step {gen:.0f}, sampling throughput {tok:.0f} tok/s")


if __name__ == "__main__":
    main()
