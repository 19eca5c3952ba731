"""GPU benchmark for a lent H100/H200: generation, training throughput + MFU, log-prob memory.

Models are random-initialised Qwen2.5-Coder configurations written out below (no hub access
needed): "0.5b" and "1.5b" (and "3b"/"7b" if asked). Sections:

1. generation: ``model.generate`` sampling tok/s, bf16, dynamic vs static KV cache (static
   triggers HF's automatic ``torch.compile`` on CUDA; the first call compiles and is excluded);
   plus one ``HFEngine`` call on a tiny model to check the engine's GPU path end to end.
2. training: ``azr.rl.update.update_step`` (fp32 master weights, bf16 autocast, AdamW, chunked
   log-probs, micro-batches by token budget) tokens/s and MFU =
   flops / (time x peak), flops per token = 6 N + 12 L H T (causal attention approx.).
3. log-prob memory: peak CUDA memory above the inputs, naive vs chunked, for 8 x 4096 tokens at
   V = 32k and V = 151,936 (OOM is reported as such).

    python benchmarks/gpu.py --out gpu.json                 # on the GPU machine
    python benchmarks/gpu.py --dry-run                      # CPU, tiny config: checks the script
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Published Qwen2.5-Coder configurations (config.json values).
QWEN_CODER = {
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "3b": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
               num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=2048, tie_word_embeddings=True),
}
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense bf16 tensor-core peaks


def make_model(name: str, device, dtype):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(**QWEN_CODER[name], max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
                      bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg)
    return model.to(dtype)


def peak_tflops(device) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_generation(name, device, batches, prompt_len, new_tokens, caches) -> list[dict]:
    import torch
    from transformers import GenerationConfig

    model = make_model(name, device, torch.bfloat16 if device.type == "cuda" else torch.float32).eval()
    rows = []
    for cache in caches:
        for b in batches:
            ids = torch.randint(1, model.config.vocab_size, (b, prompt_len), device=device)
            gen = GenerationConfig(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
                                   min_new_tokens=new_tokens, eos_token_id=None, pad_token_id=0,
                                   cache_implementation=None if cache == "dynamic" else "static")
            with torch.inference_mode():
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen)  # warm-up
                sync(device)
                t = time.perf_counter()
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen)
                sync(device)
            dt = time.perf_counter() - t
            ntok = (out.shape[1] - prompt_len) * b
            rows.append({"model": name, "cache": cache, "batch": b, "prompt_len": prompt_len,
                         "new_tokens": new_tokens, "seconds": dt, "tokens_per_s": ntok / dt})
            print(f"gen {name} {cache:7s} B={b:4d}: {ntok / dt:10.1f} tok/s ({dt:.2f} s)", flush=True)
    del model
    return rows


def bench_engine(device) -> dict:
    """One HFEngine call on a tiny model: checks the engine's device path (bf16, static cache)."""
    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_policy
    from azr.rollout.tiny import build_tiny_model, train_tokenizer
    from azr.rollout.types import SamplingParams

    path = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny", train_tokenizer(max_bytes=300_000))
    model, tok = load_policy(ModelConfig(path=str(path), device=str(device)))
    engine = HFEngine(model, tok, RolloutConfig())
    t = time.perf_counter()
    out = engine.generate(["def f(a):"] * 4, SamplingParams(max_new_tokens=32, n=4, seed=0, stop=("</answer>",)))
    dt = time.perf_counter() - t
    n = sum(len(c.token_ids) for cs in out for c in cs)
    print(f"engine tiny on {device}: {n} tokens in {dt:.2f} s (first call, includes compile)", flush=True)
    return {"engine_tokens": n, "engine_seconds": dt}


def bench_training(name, device, batch, seq_len, resp_len, micro_tokens, steps) -> dict:
    import torch

    from azr.rl.batch import PolicyBatch
    from azr.rl.config import LossConfig, OptimConfig
    from azr.rl.optim import build_optimizer
    from azr.rl.update import update_step

    model = make_model(name, device, torch.float32).train()
    n_params = sum(p.numel() for p in model.parameters())
    cfg = OptimConfig(lr=1e-6, micro_batch_tokens=micro_tokens)
    opt = build_optimizer(model, cfg)
    ids = torch.randint(1, model.config.vocab_size, (batch, seq_len))
    resp = torch.zeros(batch, seq_len)
    resp[:, seq_len - resp_len :] = 1
    pb = PolicyBatch(ids, torch.ones_like(ids), resp, torch.full((batch, seq_len), -5.0) * resp,
                     torch.randn(batch, 1) * resp, torch.ones(batch))
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(steps + 1):
        sync(device)
        t = time.perf_counter()
        res = update_step(model, opt, None, pb, LossConfig(), cfg)
        sync(device)
        if i:
            times.append(time.perf_counter() - t)
    dt = min(times)
    tokens = batch * seq_len
    c = model.config
    flops_tok = 6 * n_params + 12 * c.num_hidden_layers * c.hidden_size * seq_len
    peak = peak_tflops(device)
    row = {"model": name, "params": n_params, "batch": batch, "seq_len": seq_len, "seconds": dt,
           "tokens_per_s": tokens / dt, "tflops": flops_tok * tokens / dt / 1e12,
           "mfu": (flops_tok * tokens / dt / 1e12 / peak) if peak else None,
           "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
           "grad_norm": res.metrics["loss/grad_norm"]}
    print(f"train {name}: {row['tokens_per_s']:.0f} tok/s, {row['tflops']:.1f} TFLOP/s, MFU {row['mfu']}", flush=True)
    del model, opt
    return row


def bench_logprob_memory(device, n_tokens, hidden, vocab, chunk) -> list[dict]:
    import torch

    from azr.rl.logprobs import chunked_logprobs_entropy, naive_logprobs_entropy

    rows = []
    for mode in ("fwd", "fwd+bwd"):
        for variant in ("naive", "chunked"):
            row = {"variant": variant, "mode": mode, "tokens": n_tokens, "hidden": hidden, "vocab": vocab}
            try:
                grad = mode == "fwd+bwd"
                h = torch.randn(n_tokens, hidden, device=device, dtype=torch.bfloat16, requires_grad=grad)
                w = (torch.randn(vocab, hidden, device=device, dtype=torch.bfloat16) * 0.02).requires_grad_(grad)
                y = torch.randint(0, vocab, (n_tokens,), device=device)
                sync(device)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
                t = time.perf_counter()
                with torch.set_grad_enabled(grad):
                    if variant == "naive":
                        lp, ent = naive_logprobs_entropy(h, w, y)
                    else:
                        lp, ent = chunked_logprobs_entropy(h, w, y, chunk_tokens=chunk)
                    if grad:
                        (lp.sum() + 0.01 * ent.sum()).backward()
                sync(device)
                row["seconds"] = time.perf_counter() - t
                if device.type == "cuda":
                    row["extra_mem_gib"] = (torch.cuda.max_memory_allocated(device) - base) / 2**30
            except torch.OutOfMemoryError:
                row["oom"] = True
            finally:
                h = w = y = lp = ent = None  # noqa: F841
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            rows.append(row)
            print(f"logprob V={vocab} {mode:8s} {variant:8s}: {row}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="0.5b,1.5b")
    ap.add_argument("--sections", default="generation,engine,training,logprobs")
    ap.add_argument("--gen-batches", default="64,256")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-seq", type=int, default=1024)
    ap.add_argument("--train-steps", type=int, default=2)
    ap.add_argument("--micro-tokens", type=int, default=16384)
    ap.add_argument("--out", default="")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny config, tiny sizes: checks the script runs")
    args = ap.parse_args(argv)
    if args.dry_run:
        args.models, args.gen_batches, args.prompt_len, args.new_tokens = "tiny", "2", 8, 4
        args.train_batch, args.train_seq, args.train_steps, args.micro_tokens = 2, 32, 1, 32
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    sections = set(args.sections.split(","))
    result: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    import transformers

    result["transformers"] = transformers.__version__
    models = args.models.split(",")
    batches = [int(b) for b in args.gen_batches.split(",")]

    def save() -> None:  # after every section, so a run cut short keeps what it measured
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1))

    if "generation" in sections:
        result["generation"] = [r for m in models for r in bench_generation(
            m, device, batches, args.prompt_len, args.new_tokens, ["dynamic", "static"])]
        save()
    if "engine" in sections:
        result["engine"] = bench_engine(device)
        save()
    if "training" in sections:
        result["training"] = [bench_training(m, device, args.train_batch, args.train_seq, args.train_seq // 2,
                                             args.micro_tokens, args.train_steps) for m in models]
        save()
    if "logprobs" in sections:
        if args.dry_run:
            result["logprobs"] = bench_logprob_memory(device, 64, 32, 500, 16)
        else:
            result["logprobs"] = [r for v in (32000, 151936)
                                  for r in bench_logprob_memory(device, 8 * 4096, 896, v, 1024)]
        save()
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
