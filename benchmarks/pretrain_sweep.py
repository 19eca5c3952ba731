"""Compare azr-tiny corpus/training variants side by side (meant for a lent GPU).

Each variant is a list of extra ``azr pretrain`` arguments. All variants run in parallel:
first their corpora and tokenizers (CPU: sandbox and tokenizer training), then, once
``--wait-for`` exists (if given), training and measurement on ``--device``. Every variant
trains the same number of steps (``--max-steps``, no wall-clock cap) so the token budget is
equal; the default 2,070 steps x 4 x 768 tokens = 6.36M tokens is what the shipped model saw
in its 40 CPU minutes. A variant's own arguments come last, so it can override any of these
(a larger model gets the ``--max-steps`` its CPU throughput allows in the same time).
Decontamination is skipped (no benchmark data needed): a sweep picks
settings, the shipped model is rebuilt with them by ``azr pretrain`` on the CPU.

    python benchmarks/pretrain_sweep.py --out sweep.json \\
        --variant base= --variant p10k="--n-programs 10000"

Writes one JSON: per variant its arguments, corpus statistics, training summary (steps,
tokens, validation loss, minutes) and measured metrics; plus the logs' tails.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

KEEP = ("solve/deduction/accuracy", "solve/abduction/accuracy", "solve/induction/accuracy",
        "solve/deduction/ref_nll", "solve/induction/ref_nll", "solve/deduction/ref_prob",
        "propose/deduction/valid_rate", "propose/abduction/valid_rate", "propose/induction/valid_rate",
        "solve/induction/format_rate")


def run(cmd: list[str], log: Path) -> int:
    with log.open("a") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT).returncode


def variant(name: str, extra: list[str], args: argparse.Namespace) -> dict:
    work = Path(args.work_root) / name
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    base = [sys.executable, "-m", "azr", "pretrain", "--no-decontam", "--work-dir", str(work),
            "--out", str(work / "model"), "--threads", "1", "--workers", str(args.workers)]
    t = time.perf_counter()
    rc = run(base + extra + ["--max-steps", "1", "--measure-n", "0"], log)  # corpus + tokenizer (cached)
    row: dict = {"args": extra, "build_rc": rc, "build_s": round(time.perf_counter() - t, 1)}
    if rc:
        return row
    while args.wait_for and not Path(args.wait_for).exists():
        time.sleep(2)
    t = time.perf_counter()
    row["train_rc"] = run(base + ["--max-steps", str(args.max_steps), "--max-minutes", "0", "--eval-every", "500",
                                  "--device", args.device, "--measure-n", str(args.measure_n),
                                  "--measure-batch", str(args.measure_batch), *extra], log)
    row["train_measure_s"] = round(time.perf_counter() - t, 1)
    try:
        pre = json.loads((work / "model" / "pretrain.json").read_text())
        meas = json.loads((work / "model" / "measurements.json").read_text())
        row["corpus_tokens"] = pre["corpus_tokens"]
        row["episodes"] = pre["corpus"].get("episodes")
        tr = pre["training"]
        row["training"] = {k: tr[k] for k in ("steps", "tokens_seen", "minutes", "final_val_loss")}
        row["metrics"] = {k: v for k, v in meas["metrics"].items() if any(k.endswith(x) for x in KEEP)}
    except (OSError, KeyError, ValueError) as exc:
        row["error"] = repr(exc)
    row["log_tail"] = log.read_text()[-1500:]
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="a variant: name and extra azr pretrain arguments (repeatable)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work-root", default="/tmp/azr-sweep")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--max-steps", type=int, default=2070)
    ap.add_argument("--measure-n", type=int, default=256)
    ap.add_argument("--measure-batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=3, help="sandbox workers per variant")
    ap.add_argument("--wait-for", default=None, help="start training only once this file exists")
    args = ap.parse_args(argv)
    specs = {}
    for v in args.variant:
        name, _, extra = v.partition("=")
        specs[name] = shlex.split(extra)
    result: dict = {"date": time.strftime("%Y-%m-%d"), "max_steps": args.max_steps, "measure_n": args.measure_n,
                    "measure_batch": args.measure_batch, "device": args.device, "variants": {}}
    with ThreadPoolExecutor(max_workers=len(specs) or 1) as pool:
        futures = {name: pool.submit(variant, name, extra, args) for name, extra in specs.items()}
        for name, fut in futures.items():
            result["variants"][name] = fut.result()
            Path(args.out).write_text(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1))
    for name, row in result["variants"].items():
        print(name, json.dumps(row.get("metrics")), row.get("training"))
    return result


if __name__ == "__main__":
    main()
