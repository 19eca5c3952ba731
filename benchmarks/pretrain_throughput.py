"""Throughput of the azr-tiny pipeline: corpus building and training steps (fp32 vs bf16).

    .venv/bin/python benchmarks/pretrain_throughput.py [--programs 200] [--steps 6]

Prints one JSON object: generator programs executed per second in the sandbox (with and
without the two-process determinism check) and training tokens per second of the azr-tiny
architecture at the shipped sequence length, fp32 and bf16 autocast, measured side by side
(the first step of each is a warm-up and not timed).
"""

from __future__ import annotations

import argparse
import json
import time


def corpus_rate(n_programs: int) -> dict:
    from azr.executor import ExecutorConfig, Sandbox
    from azr.pretrain.corpus import execute_programs
    from azr.tasks.generator import generate_programs

    progs = generate_programs(n_programs, seed=99, n_inputs=10)
    out = {}
    with Sandbox(ExecutorConfig(workers=2)) as sb:
        execute_programs(progs[:10], sb)  # warm-up
        for cross in (False, True):
            t = time.perf_counter()
            executed = execute_programs(progs, sb, cross_process=cross)
            dt = time.perf_counter() - t
            out[f"programs_per_s{'_cross_process' if cross else ''}"] = round(n_programs / dt, 1)
            out[f"ran_fraction{'_cross_process' if cross else ''}"] = round(sum(1 for e in executed if e) / n_programs, 3)
    return out


def train_rate(steps: int, seq_len: int, batch_size: int, threads: int, hidden: int, layers: int, inter: int) -> dict:
    import torch

    from azr.pretrain.config import ArchitectureConfig
    from azr.pretrain.train import _loss, build_model
    from azr.rollout.tiny import train_tokenizer

    torch.set_num_threads(threads)
    tok = train_tokenizer(vocab_size=8192, max_bytes=400_000)
    mcfg = ArchitectureConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, intermediate_size=inter)
    out = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        model = build_model(mcfg, tok)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        batch = torch.randint(0, len(tok), (batch_size, seq_len + 1))
        times = []
        for _ in range(steps + 1):
            t = time.perf_counter()
            loss = _loss(model, batch, bf16)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
        out["parameters"] = sum(p.numel() for p in model.parameters())
        out[f"tokens_per_s_{'bf16' if bf16 else 'fp32'}"] = round(batch_size * seq_len * steps / sum(times[1:]), 1)
    out["bf16_speedup"] = round(out["tokens_per_s_bf16"] / out["tokens_per_s_fp32"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--programs", type=int, default=200)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--seq-len", type=int, default=768)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden-size", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--intermediate-size", type=int, default=512)
    ap.add_argument("--skip-corpus", action="store_true")
    args = ap.parse_args()
    result = {"args": vars(args)}
    if not args.skip_corpus:
        result["corpus"] = corpus_rate(args.programs)
    result["train"] = train_rate(args.steps, args.seq_len, args.batch_size, args.threads,
                                 args.hidden_size, args.layers, args.intermediate_size)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
