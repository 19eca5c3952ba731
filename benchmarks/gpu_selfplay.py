"""Two self-play steps of a random-initialised Qwen2.5-Coder-0.5B on one GPU: time per phase
and peak memory.

The architecture values are written below (no hub access needed); the weights are random
and the tokenizer is the small byte-level BPE trained locally (``azr.rollout.tiny``), whose
ids are a subset of the model's 151,936-token vocabulary. The run uses the project's GPU
path end to end: fp32 master weights with bf16 autocast (``--dtype bfloat16`` for pure
bf16), static-cache generation, gradient checkpointing, chunked log-probs in the update,
the real sandbox, and the trainer's own ``collect`` and ``policy_update``. A random model
writes no valid program, so the solve-rate phase is empty and solver prompts come from the
zero triplet; every response runs to ``--max-new-tokens`` (the slow case). Usage::

    python benchmarks/gpu_selfplay.py                 # on a GPU machine
    python benchmarks/gpu_selfplay.py --tiny          # CPU smoke run of the same path (~1 min)
    python benchmarks/gpu_selfplay.py --json out.json --batch 64 --max-new-tokens 1024
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

# Qwen2.5-Coder-0.5B (config.json of the released model).
QWEN25_CODER_05B = dict(
    vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
    num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
    rope_theta=1000000.0, rms_norm_eps=1e-6, hidden_act="silu", tie_word_embeddings=True,
)
# A model of the same family small enough for a CPU smoke run.
TINY = dict(
    vocab_size=4096, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
    rope_theta=10000.0, rms_norm_eps=1e-6, hidden_act="silu", tie_word_embeddings=True,
)


def build_model_dir(out: Path, arch: dict, seed: int) -> int:
    """Write a random-initialised Qwen2 model + the local tokenizer to ``out``; return #params."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from azr.rollout.tiny import EOS_TOKEN, train_tokenizer

    tok = train_tokenizer(out)
    eos = tok.convert_tokens_to_ids(EOS_TOKEN)
    torch.manual_seed(seed)
    cfg = Qwen2Config(**arch, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)  # saved in bf16: half the disk, same init
    model.generation_config.eos_token_id = eos
    model.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def _mem_gib(device: str) -> dict[str, float]:
    import torch

    if device == "cuda":
        return {"peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
                "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30}
    return {"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def run(args: argparse.Namespace) -> dict:
    import torch

    from azr.config import load_config
    from azr.executor import Sandbox
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_model, load_tokenizer
    from azr.selfplay.buffer import Buffers
    from azr.selfplay.env import CodeEnv
    from azr.selfplay.step import collect
    from azr.selfplay.update import policy_update

    device = "cpu" if args.tiny else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --tiny for the CPU smoke run")
    if args.tiny:
        torch.set_num_threads(args.threads or 1)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        t0 = time.perf_counter()
        n_params = build_model_dir(model_dir, TINY if args.tiny else QWEN25_CODER_05B, args.seed)
        build_s = time.perf_counter() - t0
        cfg = load_config("tiny" if args.tiny else "coder3b", None, [
            f"model.path={model_dir}", f"model.device={device}", f"model.dtype={args.dtype}",
            "model.gradient_checkpointing=true",
            f"rollout.max_new_tokens={args.max_new_tokens}", "rollout.cache_implementation=static",
            f"rollout.max_batch_size={args.gen_batch}",
            f"selfplay.propose_batch={args.batch}", f"selfplay.solve_batch={args.batch}",
            f"selfplay.learnability_samples={args.learnability_samples}", "selfplay.seed_buffer_size=0",
            "selfplay.val_every=0", f"optim.micro_batch_tokens={args.micro_batch_tokens}",
            f"optim.logprob_chunk_tokens={args.chunk_tokens}", f"run.run_dir={tmp}/run",
            f"run.seed={args.seed}", *args.overrides,
        ])
        _reset_peak(device)
        t0 = time.perf_counter()
        model = load_model(cfg.model)
        tokenizer = load_tokenizer(cfg.model.path)
        optimizer = build_optimizer(model, cfg.optim)
        scheduler = build_scheduler(optimizer, cfg.optim)
        engine = HFEngine(model, tokenizer, cfg.rollout)
        load_s = time.perf_counter() - t0
        buffers = Buffers(cfg.selfplay.buffer_cap, cfg.selfplay.cap_policy, cfg.run.seed)
        buffers.seed_zero()
        steps = []
        with Sandbox(cfg.executor) as sandbox:
            env = CodeEnv(sandbox)
            for step in range(1, args.steps + 1):
                _reset_peak(device)
                t0 = time.perf_counter()
                exp = collect(cfg, engine, env, buffers, step)
                rollout_s = time.perf_counter() - t0
                rollout_mem = _mem_gib(device)
                _reset_peak(device)
                t1 = time.perf_counter()
                metrics = policy_update(model, optimizer, scheduler, exp.rollouts, cfg, tokenizer.pad_token_id)
                if device == "cuda":
                    torch.cuda.synchronize()
                update_s = time.perf_counter() - t1
                print(f"step {step}: rollout {rollout_s:.1f} s, update {update_s:.1f} s", flush=True)
                resp = [len(r.completion.token_ids) for r in exp.rollouts]
                steps.append({
                    "step": step, **{f"time/{k}": v for k, v in exp.timings.items()},
                    "time/rollout_total": rollout_s, "time/update": update_s,
                    "time/step": time.perf_counter() - t0,
                    "rollout_memory": rollout_mem, "update_memory": _mem_gib(device),
                    "sequences": len(exp.rollouts), "generated_tokens": exp.generated_tokens,
                    "tokens_per_s": exp.generated_tokens / max(rollout_s - exp.timings.get("execute", 0.0), 1e-9),
                    "response_tokens": sum(resp),
                    "update_tokens": metrics.get("loss/tokens"), "micro_batches": metrics.get("loss/micro_batches"),
                    "loss/grad_norm": metrics.get("loss/grad_norm"), "loss/skipped": metrics.get("loss/skipped"),
                })
    info = {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
            "torch": torch.__version__, "params": n_params, "build_model_s": build_s, "load_s": load_s,
            "dtype": args.dtype, "batch_per_type": args.batch, "max_new_tokens": args.max_new_tokens,
            "date": time.strftime("%Y-%m-%d")}
    return {"info": info, "steps": steps}


def report(result: dict) -> str:
    info, steps = result["info"], result["steps"]
    mem_key = "peak_allocated_gib" if "peak_allocated_gib" in steps[0]["update_memory"] else "peak_rss_gib"
    lines = [
        f"# gpu_selfplay: {info['params'] / 1e6:.1f}M params on {info['device']} (torch {info['torch']}, "
        f"{info['dtype']} weights, {info['date']})",
        f"batch {info['batch_per_type']} per (task, role), max_new_tokens {info['max_new_tokens']}; "
        f"model build {info['build_model_s']:.1f} s, load {info['load_s']:.1f} s",
        "| step | propose s | execute s | solve_rate s | solve s | update s | step s | gen tok/s "
        f"| rollout {mem_key} | update {mem_key} | seqs | update tokens |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        lines.append(
            f"| {s['step']} | {s.get('time/propose', 0):.2f} | {s.get('time/execute', 0):.2f} | "
            f"{s.get('time/solve_rate', 0):.2f} | {s.get('time/solve', 0):.2f} | {s['time/update']:.2f} | "
            f"{s['time/step']:.2f} | {s['tokens_per_s']:.0f} | {s['rollout_memory'][mem_key]:.2f} | "
            f"{s['update_memory'][mem_key]:.2f} | {s['sequences']} | {s['update_tokens']:.0f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="CPU smoke run with a tiny model of the same family")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="prompts per (task, role) (default 32; tiny 2)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default 512 (tiny 16)")
    ap.add_argument("--learnability-samples", type=int, default=4)
    ap.add_argument("--gen-batch", type=int, default=256, help="sequences per generate call")
    ap.add_argument("--micro-batch-tokens", type=int, default=16384)
    ap.add_argument("--chunk-tokens", type=int, default=1024)
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                    help="weights: fp32 master + bf16 autocast (default) or pure bf16")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (tiny)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the result as JSON here")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config key=value")
    args = ap.parse_args(argv)
    if args.batch is None:
        args.batch = 2 if args.tiny else 32
    if args.max_new_tokens is None:
        args.max_new_tokens = 16 if args.tiny else 512
    return args


def main(argv: list[str] | None = None) -> dict:
    import sys

    args = parse_args(argv)
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:  # run from a checkout without installing the package
        sys.path.insert(0, repo)
    result = run(args)
    print(report(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
