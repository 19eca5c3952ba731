"""Peak extra memory and time of chunked vs naive per-token log-prob + entropy (CPU).

Each (variant, mode) runs in a fresh subprocess; "extra memory" is the peak resident set size
(``ru_maxrss``) minus the RSS after the inputs (hidden states, LM-head weight, labels) exist.
Modes: ``fwd`` (no gradient: old log-probs / entropy logging) and ``fwd+bwd`` (the training
loss: gradient w.r.t. hidden states and LM-head weight, d(sum logp + 0.01 * sum H)).

    .venv/bin/python benchmarks/logprobs.py                   # 8 x 4096 tokens, V 32k, H 1024
    .venv/bin/python benchmarks/logprobs.py --seqs 8 --seq-len 2048

The naive variant needs roughly 4-5 x N x V x 4 bytes; when that exceeds ``--mem-fraction`` of
the available memory, the script refuses to run it at that size (the machine is shared) and
says so; pass a smaller ``--seq-len``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def run_one(variant: str, mode: str, n: int, hidden: int, vocab: int, chunk: int, reps: int) -> dict:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from azr.rl.logprobs import chunked_logprobs_entropy, naive_logprobs_entropy

    torch.manual_seed(0)
    h = torch.randn(n, hidden).requires_grad_(mode == "fwd+bwd")
    w = (torch.randn(vocab, hidden) * 0.02).requires_grad_(mode == "fwd+bwd")
    y = torch.randint(0, vocab, (n,))

    def step() -> None:
        with torch.set_grad_enabled(mode == "fwd+bwd"):
            if variant == "chunked":
                lp, ent = chunked_logprobs_entropy(h, w, y, chunk_tokens=chunk)
            else:
                lp, ent = naive_logprobs_entropy(h, w, y)
            if mode == "fwd+bwd":
                (lp.sum() + 0.01 * ent.sum()).backward()
                h.grad = None
                w.grad = None

    base = _rss_kib()
    times = []
    for _ in range(reps + 1):  # the first run is a warm-up
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "variant": variant, "mode": mode, "tokens": n, "hidden": hidden, "vocab": vocab,
        "chunk_tokens": chunk, "extra_mem_gib": (peak - base) / 2**20, "time_s": min(times[1:]),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seqs", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--mem-fraction", type=float, default=0.6)
    ap.add_argument("--modes", default="fwd,fwd+bwd")
    ap.add_argument("--variants", default="naive,chunked")
    ap.add_argument("--one", nargs=2, metavar=("VARIANT", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    n = args.seqs * args.seq_len
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], n, args.hidden, args.vocab, args.chunk, args.reps)))
        return
    rows = []
    for mode in args.modes.split(","):
        for variant in args.variants.split(","):
            need = 5 * n * args.vocab * 4 / 2**30 if variant == "naive" else 0.0
            avail = _mem_available_gib()
            if need > args.mem_fraction * avail:
                print(f"skip {variant} {mode}: needs ~{need:.1f} GiB, {avail:.1f} GiB available", flush=True)
                continue
            cmd = [sys.executable, __file__, "--one", variant, mode, "--seqs", str(args.seqs),
                   "--seq-len", str(args.seq_len), "--hidden", str(args.hidden), "--vocab",
                   str(args.vocab), "--chunk", str(args.chunk), "--reps", str(args.reps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{mode:8s} {variant:8s} extra {row['extra_mem_gib']:7.3f} GiB  time {row['time_s']:7.2f} s", flush=True)
    by = {(r["mode"], r["variant"]): r for r in rows}
    for mode in args.modes.split(","):
        if (mode, "naive") in by and (mode, "chunked") in by:
            nv, ch = by[(mode, "naive")], by[(mode, "chunked")]
            print(f"{mode}: memory naive/chunked {nv['extra_mem_gib'] / max(ch['extra_mem_gib'], 1e-9):.1f}x, "
                  f"time chunked/naive {ch['time_s'] / nv['time_s']:.2f}x")
    print(json.dumps({"tokens": n, "rows": rows}))


if __name__ == "__main__":
    main()
