"""The coder presets on one GPU: a full self-play step of a random-initialised
Qwen2.5-Coder-3B and one update step of a 7B under FSDP2 with CPU offload.

Sections (``--sections``, default both):

- ``selfplay``: the ``coder3b`` preset's prompt counts (64 per task type and role, 8
  learnability samples) with a response budget that fits one GPU (``--max-new-tokens``,
  default 1,024) and the rollout token budget the planner (``azr.plan``) gives for the card.
  One step of the trainer's own ``collect`` (propose, execute, solve-rate samples, solve) and
  ``policy_update``: time, generated tokens/s and peak memory of every generate call and of
  the update, and the update's MFU (model FLOPs 6 N T + 6 L h s^2 per sequence, gradient
  checkpointing's recompute not counted, over ``--peak-tflops``). A random model writes no
  valid program, so the solve-rate phase is empty and every response runs to the budget (the
  slow case); the tokenizer is the small local BPE (no hub), whose ids lie inside the model's
  vocabulary, so prompts are ~2x more tokens than with Qwen's tokenizer.
- ``update7b``: Qwen2.5-Coder-7B's architecture built on the meta device, sharded with FSDP2
  ``fully_shard`` per decoder layer + root with ``CPUOffloadPolicy`` (weights, gradients and
  AdamW state in host memory, the optimizer steps on the CPU), gradient checkpointing, one
  micro-batch of ``--update-tokens`` random tokens through the project's chunked log-probs and
  PPO-clip loss, backward and ``AdamW.step``: times, peak GPU memory, host RSS and MFU. One
  process (world size 1). Default ``--dtype7b bfloat16``: fp32 weights + gradients + AdamW
  state of 7.6B parameters are 114 GiB of host memory, too close to a 128 GB machine.

``--tiny`` runs both sections end to end on the CPU with small models of the same family
(gloo, the same offload policy), so that the script is known to work before a GPU is lent::

    python benchmarks/gpu_7b.py --out gpu_7b.json          # on the GPU machine (~5-8 min)
    python benchmarks/gpu_7b.py --tiny                       # CPU dry run (~1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from azr.plan import QWEN25_CODER_3B, QWEN25_CODER_7B, Arch  # noqa: E402  (torch-free)

TINY_ARCH = Arch("tiny-qwen2", hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, vocab=4096, tied=True)
TINY_7B_ARCH = Arch("tiny-qwen2-untied", hidden=64, layers=3, heads=4, kv_heads=2, intermediate=160, vocab=4096,
                    tied=False)
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0}  # dense bf16


def qwen2_config(arch: Arch, eos: int = 0):
    """A ``Qwen2Config`` of ``arch`` (Qwen2.5's rope theta and norm epsilon)."""
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=arch.vocab, hidden_size=arch.hidden, intermediate_size=arch.intermediate,
        num_hidden_layers=arch.layers, num_attention_heads=arch.heads, num_key_value_heads=arch.kv_heads,
        max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6, hidden_act="silu",
        tie_word_embeddings=arch.tied, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
    )


def matmul_flops(arch: Arch, seq_lens) -> float:
    """Model FLOPs of forward + backward over sequences of ``seq_lens`` tokens: 6 x (matmul
    parameters) per token plus causal attention 6 L h s^2 per sequence."""
    matmul_params = arch.layers * arch.layer_params + arch.embed_params  # the LM head; lookups are free
    return sum(6.0 * matmul_params * s + 6.0 * arch.layers * arch.hidden * s * s for s in seq_lens)


def _gib(n: float) -> float:
    return round(n / 2**30, 3)


def _host_rss_gib() -> float:
    return _gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


class _Probe:
    """Peak device memory and wall time of a block (CUDA: reset/read the allocator's peak)."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak_gib = _gib(torch.cuda.max_memory_allocated())
            self.reserved_gib = _gib(torch.cuda.max_memory_reserved())
        else:
            self.peak_gib = self.reserved_gib = None
        self.seconds = time.perf_counter() - self.t0
        return False


class RecordingEngine:
    """Wraps an engine; records time, tokens and peak memory of every ``generate`` call."""

    def __init__(self, engine, device):
        self.engine, self.device, self.calls = engine, device, []

    def generate(self, prompts, params):
        with _Probe(self.device) as p:
            out = self.engine.generate(prompts, params)
        tokens = sum(len(c.token_ids) for cs in out for c in cs)
        prompt_tokens = sum(len(c.prompt_token_ids) for cs in out for c in cs)
        self.calls.append({
            "prompts": len(prompts), "n": params.n, "rows": len(prompts) * params.n,
            "prompt_tokens": prompt_tokens, "generated_tokens": tokens, "seconds": round(p.seconds, 3),
            "tokens_per_s": round(tokens / max(p.seconds, 1e-9), 1), "peak_gib": p.peak_gib,
            "reserved_gib": p.reserved_gib,
        })
        return out


def check_caches(tokenizer, eos: int, device) -> dict:
    """A tiny random model sampled on ``device`` (bf16 copy on GPU) with the growing and the
    pre-allocated (static) cache in 5-row sub-batches, and in one sub-batch: the fractions of
    identical completions, or the error of the static path (the self-play section then falls
    back to the dynamic cache)."""
    import torch
    from transformers import Qwen2ForCausalLM

    from azr.rollout.config import RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.types import SamplingParams

    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(qwen2_config(replace_vocab(TINY_ARCH, len(tokenizer)), eos))
    prompts = ["def f(a):\n    return a", "x = [1, 2, 3]\nprint(len(x))", "import math"]
    params = SamplingParams(max_new_tokens=24, n=4, seed=0)
    outs = {}
    runs = {"dynamic": dict(cache_implementation="dynamic", max_batch_size=5, decode_chunk=4),
            "static": dict(cache_implementation="static", max_batch_size=5, decode_chunk=4),
            "one_batch": dict(cache_implementation="dynamic", max_batch_size=64, decode_chunk=1000)}
    try:
        for name, kw in runs.items():
            engine = HFEngine(model, tokenizer, RolloutConfig(**kw))
            t0 = time.perf_counter()
            outs[name] = [c.token_ids for cs in engine.generate(prompts, params) for c in cs]
            outs[name + "_s"] = round(time.perf_counter() - t0, 3)
    except Exception as e:  # noqa: BLE001 - recorded, and the run goes on with the dynamic cache
        return {"error": f"{type(e).__name__}: {e}"[:500]}

    def same(a: str, b: str) -> float:
        return sum(x == y for x, y in zip(outs[a], outs[b])) / len(outs[a])

    # on the CPU all three agree exactly; on a GPU bf16 kernels may differ with the batch shape
    return {"identical_fraction": same("dynamic", "static"), "split_identical_fraction": same("dynamic", "one_batch"),
            "dynamic_s": outs["dynamic_s"], "static_s": outs["static_s"]}


def replace_vocab(arch: Arch, vocab: int) -> Arch:
    from dataclasses import replace

    return replace(arch, vocab=max(vocab, 8))


def run_selfplay(args, device, peak_tflops: float | None) -> dict:
    """One self-play step of the 3B architecture (``--tiny``: a tiny one) on ``device``."""
    import torch
    from transformers import Qwen2ForCausalLM

    from azr.config import load_config
    from azr.executor import Sandbox
    from azr.plan import Hardware, plan_strategy, workload_from_config
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_tokenizer
    from azr.rollout.tiny import EOS_TOKEN, train_tokenizer
    from azr.selfplay.buffer import Buffers
    from azr.selfplay.env import CodeEnv
    from azr.selfplay.step import collect
    from azr.selfplay.update import policy_update

    arch = TINY_ARCH if args.tiny else QWEN25_CODER_3B
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        tok = train_tokenizer(Path(tmp) / "tok", max_bytes=300_000 if args.tiny else 1_500_000)
        tok_s = time.perf_counter() - t0
        # the folder names the architecture (config.json) next to the tokenizer; the weights are
        # built in memory below (random, nothing to load)
        qwen2_config(arch, tok.convert_tokens_to_ids(EOS_TOKEN)).save_pretrained(Path(tmp) / "tok")
        overrides = [
            f"model.path={tmp}/tok", f"model.device={device}", "model.dtype=float32",
            "model.gradient_checkpointing=true", f"rollout.max_new_tokens={args.max_new_tokens}",
            "selfplay.seed_buffer_size=0", "selfplay.val_every=0", f"run.run_dir={tmp}/run", "run.seed=0",
        ]
        if args.tiny:
            overrides += ["selfplay.propose_batch=2", "selfplay.solve_batch=2", "selfplay.learnability_samples=2",
                          "optim.micro_batch_tokens=2048", "executor.workers=1"]
        cfg = load_config("coder3b", None, [*overrides, *args.overrides])
        # the planner's rollout budget for this card (the update is checked by measuring it)
        gpu_gib = (torch.cuda.get_device_properties(device).total_memory / 2**30) if device.type == "cuda" else 8.0
        planned = plan_strategy(arch, workload_from_config(cfg, args.prompt_tokens), Hardware(1, gpu_gib), "ddp")
        if planned.max_batch_tokens and not any(o.startswith("rollout.max_batch_tokens") for o in args.overrides):
            cfg = load_config("coder3b", None, [*overrides, f"rollout.max_batch_tokens={planned.max_batch_tokens}",
                                                *args.overrides])
        tokenizer = load_tokenizer(cfg.model.path)
        eos = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
        cache_check = check_caches(tokenizer, eos, device)
        if "error" in cache_check and not any(o.startswith("rollout.cache_implementation") for o in args.overrides):
            cfg = load_config("coder3b", None, [*overrides, f"rollout.max_batch_tokens={cfg.rollout.max_batch_tokens}",
                                                "rollout.cache_implementation=dynamic", *args.overrides])
        t0 = time.perf_counter()
        torch.manual_seed(0)
        with torch.device(device):
            model = Qwen2ForCausalLM(qwen2_config(arch, eos))
        model.generation_config.eos_token_id = eos
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
        model.train()
        build_s = time.perf_counter() - t0
        optimizer = build_optimizer(model, cfg.optim)
        scheduler = build_scheduler(optimizer, cfg.optim)
        engine = RecordingEngine(HFEngine(model, tokenizer, cfg.rollout), device)
        buffers = Buffers(cfg.selfplay.buffer_cap, cfg.selfplay.cap_policy, cfg.run.seed)
        buffers.seed_zero()
        with Sandbox(cfg.executor) as sandbox:
            with _Probe(device) as whole:
                with _Probe(device) as roll:
                    exp = collect(cfg, engine, CodeEnv(sandbox), buffers, 1)
                with _Probe(device) as upd:
                    metrics = policy_update(model, optimizer, scheduler, exp.rollouts, cfg, tokenizer.pad_token_id)
    seqs = [len(r.completion.prompt_token_ids) + len(r.completion.token_ids) for r in exp.rollouts]
    flops = matmul_flops(arch, seqs)
    gen_tokens = sum(c["generated_tokens"] for c in engine.calls)
    gen_s = sum(c["seconds"] for c in engine.calls)
    return {
        "arch": arch.name, "params": sum(p.numel() for p in model.parameters()),
        "cache_check": cache_check, "cache_implementation": cfg.rollout.cache_implementation,
        "tokenizer_s": round(tok_s, 2), "build_s": round(build_s, 2),
        "propose_batch": cfg.selfplay.propose_batch, "solve_batch": cfg.selfplay.solve_batch,
        "learnability_samples": cfg.selfplay.learnability_samples, "max_new_tokens": cfg.rollout.max_new_tokens,
        "max_batch_tokens": cfg.rollout.max_batch_tokens, "micro_batch_tokens": cfg.optim.micro_batch_tokens,
        "planned": {"rows": planned.rows, "rollout_gib": _gib(sum(planned.rollout.values())),
                    "update_gib": _gib(sum(planned.update.values())), "fits": planned.fits},
        "timings": {k: round(v, 3) for k, v in exp.timings.items()},
        "step_s": round(whole.seconds, 2), "rollout_s": round(roll.seconds, 2), "update_s": round(upd.seconds, 2),
        "generate_calls": engine.calls,
        "generate_tokens_per_s": round(gen_tokens / max(gen_s, 1e-9), 1),
        "rollout_peak_gib": roll.peak_gib, "update_peak_gib": upd.peak_gib, "step_peak_gib": whole.peak_gib,
        "update_sequences": len(seqs), "update_tokens": sum(seqs),
        "update_tokens_per_s": round(sum(seqs) / max(upd.seconds, 1e-9), 1),
        "update_tflops": round(flops / max(upd.seconds, 1e-9) / 1e12, 2),
        "update_mfu": round(flops / upd.seconds / (peak_tflops * 1e12), 4) if peak_tflops else None,
        "grad_norm": metrics.get("loss/grad_norm"), "host_rss_gib": _host_rss_gib(),
    }


def _init_single_process_group(device) -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                            init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)


def run_update7b(args, device, peak_tflops: float | None) -> dict:
    """One update step of the 7B architecture (``--tiny``: a tiny untied one) under FSDP2 with
    CPU offload, from a meta-device build (no full copy of the weights is ever materialised)."""
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard
    from transformers import Qwen2ForCausalLM

    from azr.rl.config import LossConfig
    from azr.rl.logprobs import policy_logprobs
    from azr.rl.losses import ppo_clip

    arch = TINY_7B_ARCH if args.tiny else QWEN25_CODER_7B
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[args.dtype7b]
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _init_single_process_group(device)
    try:
        t0 = time.perf_counter()
        cfg = qwen2_config(arch)
        with torch.device("meta"):
            model = Qwen2ForCausalLM(cfg).to(dtype)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False

        class Root(nn.Module):
            """The FSDP root: its forward gathers the embedding, final norm and LM head, so the
            chunked log-probs may read the head's weight."""

            def __init__(self, lm):
                super().__init__()
                self.lm = lm

            def forward(self, ids, attn, score):
                return policy_logprobs(self.lm, ids, attn, score, chunk_tokens=1024)

        root = Root(model)
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
            if dtype == torch.float32 and device.type == "cuda" else MixedPrecisionPolicy()
        offload = CPUOffloadPolicy(pin_memory=device.type == "cuda" and args.pin)
        for layer in model.model.layers:
            fully_shard(layer, mp_policy=mp, offload_policy=offload)
        fully_shard(root, mp_policy=mp, offload_policy=offload)
        root.to_empty(device="cpu")
        with torch.no_grad():  # random weights, in place on the (host) shards: no full copy
            torch.manual_seed(0)
            for name, p in root.named_parameters():
                local = p.to_local()
                if "norm" in name:
                    local.fill_(1.0)
                elif name.endswith("bias"):
                    local.zero_()
                else:
                    local.uniform_(-0.035, 0.035)  # std 0.02
        model.model.rotary_emb = type(model.model.rotary_emb)(cfg).to(device)  # buffers are not sharded
        optimizer = torch.optim.AdamW(root.parameters(), lr=1e-6, weight_decay=0.0)
        build_s = time.perf_counter() - t0
        # one micro-batch: sequences of --seq-len tokens, the second half scored (the response)
        n_seq = max(1, args.update_tokens // args.seq_len)
        gen = torch.Generator().manual_seed(1)
        ids = torch.randint(0, arch.vocab, (n_seq, args.seq_len), generator=gen).to(device)
        attn = torch.ones_like(ids)
        score = torch.zeros_like(ids)
        score[:, args.seq_len // 2:] = 1
        old = torch.full(ids.shape, -float(torch.log(torch.tensor(float(arch.vocab)))), device=device)
        adv = torch.randn(n_seq, generator=gen).to(device)[:, None].expand_as(ids)
        loss_cfg = LossConfig()
        steps = []
        for _ in range(args.update_repeats):
            with _Probe(device) as fb:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    lp, _ = root(ids, attn, score)
                loss, _ = ppo_clip(lp, old, adv, score.float(), loss_cfg)
                loss.backward()
            with _Probe(device) as opt:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            flops = matmul_flops(arch, [args.seq_len] * n_seq)
            steps.append({
                "forward_backward_s": round(fb.seconds, 2), "optimizer_s": round(opt.seconds, 2),
                "fb_peak_gib": fb.peak_gib, "fb_reserved_gib": fb.reserved_gib, "opt_peak_gib": opt.peak_gib,
                "tokens_per_s": round(ids.numel() / max(fb.seconds + opt.seconds, 1e-9), 1),
                "fb_tflops": round(flops / max(fb.seconds, 1e-9) / 1e12, 2),
                "mfu_forward_backward": round(flops / fb.seconds / (peak_tflops * 1e12), 4) if peak_tflops else None,
                "mfu_step": round(flops / (fb.seconds + opt.seconds) / (peak_tflops * 1e12), 4) if peak_tflops
                else None,
                "loss": float(loss.detach()),
            })
        n_params = sum(p.numel() for p in root.parameters())
        return {"arch": arch.name, "params": n_params, "dtype": args.dtype7b, "build_s": round(build_s, 2),
                "sequences": n_seq, "seq_len": args.seq_len, "tokens": ids.numel(), "steps": steps,
                "host_rss_gib": _host_rss_gib()}
    finally:
        dist.destroy_process_group()


def device_info(device) -> dict:
    import torch
    import transformers

    info = {"torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "cpus": os.cpu_count()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info.update(device=p.name, device_gib=_gib(p.total_memory), cuda=torch.version.cuda)
    else:
        info.update(device="cpu " + (platform.processor() or platform.machine()))
    return info


def run(args) -> dict:
    import torch

    device = torch.device("cpu" if args.tiny else "cuda:0")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_7b: no CUDA device; run with --tiny for the CPU dry run")
    if args.tiny:
        torch.set_num_threads(args.threads or 1)
    info = device_info(device)
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in info["device"]), None)
    info["peak_tflops"] = peak
    result: dict = {"info": info}
    sections = args.sections.split(",")
    if "selfplay" in sections:
        result["selfplay"] = run_selfplay(args, device, peak)
        print(json.dumps({"selfplay": result["selfplay"]}), flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if "update7b" in sections:
        result["update7b"] = run_update7b(args, device, peak)
        print(json.dumps({"update7b": result["update7b"]}), flush=True)
    return result


def report(result: dict) -> str:
    """A Markdown summary for BENCHMARKS.md."""
    info = result["info"]
    out = [f"{info['device']}, torch {info['torch']}, transformers {info['transformers']}, {info['date']}"]
    sp = result.get("selfplay")
    if sp:
        out.append(f"\ncache check (tiny model): {sp['cache_check']}; self-play used "
                   f"cache_implementation={sp['cache_implementation']}")
        out += [
            f"\nself-play step, {sp['arch']} ({sp['params'] / 1e9:.2f}B, random init), {sp['propose_batch']} "
            f"prompts per task type, budget {sp['max_new_tokens']} tokens, rollout.max_batch_tokens "
            f"{sp['max_batch_tokens']:,}: step {sp['step_s']} s (rollout {sp['rollout_s']} s, update "
            f"{sp['update_s']} s); peak rollout {sp['rollout_peak_gib']} GiB, update {sp['update_peak_gib']} GiB "
            f"(planned {sp['planned']['rollout_gib']} / {sp['planned']['update_gib']} GiB)",
            "| generate call | rows | prompt tokens | generated | s | tok/s | peak GiB |", "|---|---|---|---|---|---|---|",
        ]
        for k, c in enumerate(sp["generate_calls"]):
            out.append(f"| {k + 1} (n={c['n']}) | {c['rows']} | {c['prompt_tokens']:,} | {c['generated_tokens']:,} | "
                       f"{c['seconds']} | {c['tokens_per_s']:,} | {c['peak_gib']} |")
        out.append(f"update: {sp['update_sequences']} sequences, {sp['update_tokens']:,} tokens, "
                   f"{sp['update_tokens_per_s']:,} tok/s, {sp['update_tflops']} TFLOP/s, MFU {sp['update_mfu']}")
    u = result.get("update7b")
    if u:
        s = u["steps"][-1]
        out.append(f"\n{u['arch']} update under FSDP2 + CPU offload ({u['dtype']} weights, {u['params'] / 1e9:.2f}B): "
                   f"{u['sequences']} x {u['seq_len']} tokens, forward+backward {s['forward_backward_s']} s, "
                   f"optimizer {s['optimizer_s']} s, peak GPU {s['fb_peak_gib']} GiB, host RSS {u['host_rss_gib']} "
                   f"GiB, MFU (fwd+bwd) {s['mfu_forward_backward']}, (step) {s['mfu_step']}")
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="CPU dry run with tiny models of the same family")
    ap.add_argument("--sections", default="selfplay,update7b")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="response budget (default 1,024; tiny 8)")
    ap.add_argument("--prompt-tokens", type=int, default=4096,
                    help="widest prompt the planner assumes (local BPE tokenizer: ~2x Qwen's token count)")
    ap.add_argument("--update-tokens", type=int, default=None, help="7B micro-batch tokens (default 16,384; tiny 256)")
    ap.add_argument("--seq-len", type=int, default=None, help="7B sequence length (default 4,096; tiny 64)")
    ap.add_argument("--update-repeats", type=int, default=2, help="7B update steps (the first warms up)")
    ap.add_argument("--dtype7b", default="bfloat16", choices=("bfloat16", "float32"))
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="7B: do not pin the offloaded host memory")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the card's dense bf16 peak (default: by name)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="write the JSON result here")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config key=value (selfplay)")
    args = ap.parse_args(argv)
    args.max_new_tokens = args.max_new_tokens or (8 if args.tiny else 1024)
    args.update_tokens = args.update_tokens or (256 if args.tiny else 16384)
    args.seq_len = args.seq_len or (64 if args.tiny else 4096)
    if args.tiny:
        args.prompt_tokens = min(args.prompt_tokens, 512)
    unknown = set(args.sections.split(",")) - {"selfplay", "update7b"}
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; known: selfplay, update7b")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    result = run(args)
    print(report(result), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
