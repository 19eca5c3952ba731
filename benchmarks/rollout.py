"""Sampling throughput of ``HFEngine`` on the CPU: tokens/s at batch 8/32/128, dynamic vs static cache.

The model is a random-initialised Qwen2 of the demo's size class (default: hidden 256,
4 layers, 2k vocabulary, ~6M parameters) with the locally trained tokenizer; nothing is
downloaded. Throughput counts generated tokens (EOS-terminated completions count what they
generated) over wall time, after one warm-up call per configuration.

    .venv/bin/python benchmarks/rollout.py
    .venv/bin/python benchmarks/rollout.py --batches 8,32 --new-tokens 64 --caches dynamic
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_engine(args, cache: str):
    import torch

    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_policy
    from azr.rollout.tiny import build_tiny_model, train_tokenizer

    if args.model:
        path = args.model
    else:
        path = Path(tempfile.mkdtemp()) / "bench_model"
        if not path.exists():
            tok = train_tokenizer(vocab_size=args.vocab, max_bytes=600_000)
            build_tiny_model(path, tok, hidden_size=args.hidden, num_layers=args.layers, num_heads=4,
                             num_kv_heads=2, intermediate_size=3 * args.hidden)
        args.model = str(path)
    model, tok = load_policy(ModelConfig(path=str(path), device=args.device))
    n_params = sum(p.numel() for p in model.parameters())
    cfg = RolloutConfig(max_batch_size=max(int(b) for b in args.batches.split(",")), cache_implementation=cache)
    return HFEngine(model, tok, cfg), n_params, torch.get_num_threads()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="", help="a local HF folder (default: build a tiny random model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--batches", default="8,32,128")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--caches", default="dynamic,static")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from azr.rollout.types import SamplingParams

    prompt = "def f(a, b):\n    result = []\n    for x in a:\n        if x % b == 0:\n"
    rows = []
    for cache in args.caches.split(","):
        engine, n_params, threads = build_engine(args, cache)
        for b in (int(x) for x in args.batches.split(",")):
            params = SamplingParams(max_new_tokens=args.new_tokens, n=b, seed=0)
            engine.generate([prompt], SamplingParams(max_new_tokens=8, n=b, seed=0))  # warm-up
            t = time.perf_counter()
            out = engine.generate([prompt], params)
            dt = time.perf_counter() - t
            ntok = sum(len(c.token_ids) for c in out[0])
            row = {"cache": cache, "batch": b, "new_tokens": args.new_tokens, "generated": ntok,
                   "seconds": dt, "tokens_per_s": ntok / dt, "params": n_params, "threads": threads}
            rows.append(row)
            print(f"{cache:8s} batch {b:4d}: {ntok:6d} tokens in {dt:7.2f} s = {ntok / dt:8.1f} tok/s", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
