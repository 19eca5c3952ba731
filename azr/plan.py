"""Memory plan of a training run per GPU, before anything is loaded (torch-free).

    azr train --preset coder7b --plan [--gpus N] [--gpu-mem GIB] [--host-mem GIB] [--prompt-tokens W]
    python -m azr.plan --preset coder7b --gpus 4 --gpu-mem 80

For each way of spreading the update over N GPUs (``ddp``: everything replicated; ``fsdp``:
weights, gradients and AdamW state sharded N ways; ``fsdp-offload``: those three in host
memory), the bytes per GPU of each part of the two phases of a step:

- rollout: training weights + optimizer state (+ DDP's gradient buckets) + the bf16 sampling
  copy + the KV cache of one sub-batch + the prefill's activations of that sub-batch;
- update: the same persistent parts + gradients + FSDP's gathered units in flight +
  activations of one micro-batch under gradient checkpointing + the chunked LM-head logits;

and the largest settings that fit: ``rollout.max_batch_tokens`` (rows x (widest prompt +
response budget) of one sub-batch) and ``optim.micro_batch_tokens``. The first strategy that
fits is recommended; when none fits, ``main`` exits 2 with the reason on one line.

The formulas are estimates (stated next to each part); a 5% + 2 GiB reserve covers the CUDA
context and allocator fragmentation. ``benchmarks/gpu_7b.py`` measures the peak of each phase
on a GPU to check them. Architectures: read from a local ``config.json`` when ``model.path``
is a folder, else from the table below (the two reference models).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30
STRATEGIES = ("ddp", "fsdp", "fsdp-offload")


@dataclass(frozen=True)
class Arch:
    """The sizes of a Qwen2/Llama-style decoder that memory depends on."""

    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool  # input and output embeddings share one matrix
    qkv_bias: bool = True  # Qwen2 has biases on q, k, v

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def layer_params(self) -> int:
        h, kv = self.hidden, self.kv_heads * self.head_dim
        attn = h * h + 2 * h * kv + h * h + ((h + 2 * kv) if self.qkv_bias else 0)
        return attn + 3 * h * self.intermediate + 2 * h  # + two RMSNorm weights

    @property
    def embed_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def params(self) -> int:
        heads = 1 if self.tied else 2
        return self.layers * self.layer_params + heads * self.embed_params + self.hidden  # + final norm

    def kv_bytes_per_token(self, dtype_bytes: int = 2) -> int:
        """K and V of one token over all layers."""
        return self.layers * 2 * self.kv_heads * self.head_dim * dtype_bytes


# The reference models' config.json values (the Hugging Face model cards' files
# Qwen/Qwen2.5-Coder-3B/config.json and Qwen/Qwen2.5-Coder-7B/config.json; no hub here, so
# constants). Parameter counts from these: 3.09B and 7.62B, as the cards state.
QWEN25_CODER_3B = Arch("Qwen2.5-Coder-3B", hidden=2048, layers=36, heads=16, kv_heads=2,
                       intermediate=11008, vocab=151936, tied=True)
QWEN25_CODER_7B = Arch("Qwen2.5-Coder-7B", hidden=3584, layers=28, heads=28, kv_heads=4,
                       intermediate=18944, vocab=152064, tied=False)
KNOWN_ARCHS = {
    "Qwen/Qwen2.5-Coder-3B": QWEN25_CODER_3B, "Qwen/Qwen2.5-Coder-3B-Instruct": QWEN25_CODER_3B,
    "Qwen/Qwen2.5-Coder-7B": QWEN25_CODER_7B, "Qwen/Qwen2.5-Coder-7B-Instruct": QWEN25_CODER_7B,
}


def arch_from_config_json(path: str | Path) -> Arch:
    """The ``Arch`` of a HF ``config.json`` (a file or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    c = json.loads(path.read_text(encoding="utf-8"))
    try:
        return Arch(
            name=str(c.get("_name_or_path") or path.parent.name), hidden=int(c["hidden_size"]),
            layers=int(c["num_hidden_layers"]), heads=int(c["num_attention_heads"]),
            kv_heads=int(c.get("num_key_value_heads") or c["num_attention_heads"]),
            intermediate=int(c["intermediate_size"]), vocab=int(c["vocab_size"]),
            tied=bool(c.get("tie_word_embeddings", False)),
            qkv_bias=c.get("model_type", "qwen2") == "qwen2",
        )
    except KeyError as e:
        raise ValueError(f"{path}: no {e.args[0]!r}; not a decoder config this planner knows") from None


def resolve_arch(model_path: str) -> Arch:
    """A local folder's ``config.json``, else a known hub id; ``ValueError`` otherwise."""
    if model_path and (Path(model_path) / "config.json").is_file():
        return arch_from_config_json(model_path)
    if model_path in KNOWN_ARCHS:
        return KNOWN_ARCHS[model_path]
    raise ValueError(f"model.path {model_path!r}: not a local folder with config.json and not one of "
                     f"{sorted(KNOWN_ARCHS)}")


@dataclass(frozen=True)
class Workload:
    """The settings of a run that memory depends on."""

    prompt_tokens: int  # the widest prompt of a sub-batch (W)
    max_new_tokens: int  # response budget
    max_rows: int  # rollout.max_batch_size
    micro_batch_tokens: int  # optim.micro_batch_tokens
    logprob_chunk_tokens: int  # optim.logprob_chunk_tokens
    checkpointing: bool  # model.gradient_checkpointing
    weight_bytes: int  # 4: fp32 master weights (bf16 autocast); 2: bf16 weights
    bf16_sampling: bool  # rollout.gpu_bf16: sample from a bf16 copy of fp32 weights
    max_batch_tokens: int = 0  # rollout.max_batch_tokens as configured (0 = not set)
    prefill_tokens: int = 16384  # rollout.prefill_tokens

    @property
    def row_tokens(self) -> int:
        return self.prompt_tokens + self.max_new_tokens


def workload_from_config(cfg, prompt_tokens: int) -> Workload:
    """The ``Workload`` of a resolved ``azr.config.Config``."""
    return Workload(
        prompt_tokens=prompt_tokens, max_new_tokens=cfg.rollout.max_new_tokens,
        max_rows=cfg.rollout.max_batch_size, micro_batch_tokens=cfg.optim.micro_batch_tokens,
        logprob_chunk_tokens=cfg.optim.logprob_chunk_tokens, checkpointing=cfg.model.gradient_checkpointing,
        weight_bytes=2 if cfg.model.dtype in ("bfloat16", "float16") else 4,
        bf16_sampling=cfg.rollout.gpu_bf16, max_batch_tokens=cfg.rollout.max_batch_tokens,
        prefill_tokens=cfg.rollout.prefill_tokens,
    )


@dataclass(frozen=True)
class Hardware:
    gpus: int = 1
    gpu_gib: float = 80.0
    host_gib: float = 0.0  # host memory for the offloaded state, all ranks together; 0 = not checked

    def usable(self) -> float:
        """Bytes per GPU after the reserve (CUDA context, allocator fragmentation): 5% + 2 GiB."""
        return self.gpu_gib * GIB * 0.95 - 2 * GIB


def layer_activation_bytes(a: Arch, w: Workload) -> int:
    """Bytes per token of one decoder layer's saved activations in training (bf16 autocast):
    norms (fp32 in, bf16 out), q/k/v, attention and o-proj outputs, the four I-wide MLP tensors,
    the fp32 residual adds: ~28h + 4 kv + 8I bytes."""
    kv = a.kv_heads * a.head_dim
    return 28 * a.hidden + 4 * kv + 8 * a.intermediate


def activation_bytes(a: Arch, w: Workload, tokens: int) -> dict[str, int]:
    """Update-phase activations of a micro-batch of ``tokens``: with checkpointing, each layer's
    input (the fp32 residual stream) plus one layer recomputed with its gradients (x2);
    without, every layer's activations. Plus the LM-head chunk: logits, log-softmax and their
    gradient in fp32 (``logprob_chunk_tokens`` x V x 12)."""
    per_layer = layer_activation_bytes(a, w) * tokens
    if w.checkpointing:
        body = a.layers * tokens * a.hidden * w.weight_bytes + 2 * per_layer
    else:
        body = a.layers * per_layer
    head = min(tokens, w.logprob_chunk_tokens) * a.vocab * 12 + tokens * a.hidden * 4
    return {"activations": body, "logits chunk": head}


def prefill_bytes(a: Arch, w: Workload, rows: int) -> int:
    """Sampling: one prefill forward's transient activations in bf16 (hidden states, q/k/v, the
    MLP's gate/up/product: ~8h + 6I bytes per token) over at most ``rollout.prefill_tokens``
    rows x prompt tokens, plus each row's last-position scores, probabilities and float64 CDF
    (V x 16)."""
    tokens = min(rows * w.prompt_tokens, w.prefill_tokens)
    return tokens * (8 * a.hidden + 6 * a.intermediate) + rows * a.vocab * 16


def persistent_parts(a: Arch, w: Workload, hw: Hardware, strategy: str) -> dict[str, int]:
    """Bytes per GPU held through the whole step (weights, optimizer, DDP buckets, bf16 copy)."""
    p, n = a.params, hw.gpus
    shard = 1 if strategy == "ddp" else n
    on_gpu = strategy != "fsdp-offload"
    master = p * w.weight_bytes // shard if on_gpu else 0
    parts = {
        "weights (fp32 master)" if w.weight_bytes == 4 else "weights (bf16)": master,
        "optimizer (AdamW m, v)": 2 * master,
        "DDP gradient buckets": p * w.weight_bytes if strategy == "ddp" and n > 1 else 0,
    }
    needs_copy = (w.weight_bytes == 4 and w.bf16_sampling) or strategy != "ddp"
    parts["bf16 sampling copy"] = 2 * p if needs_copy else 0
    return parts


def kv_dtype_bytes(w: Workload) -> int:
    return 2 if (w.bf16_sampling or w.weight_bytes == 2) else 4


@dataclass(frozen=True)
class StrategyPlan:
    strategy: str
    rollout: dict[str, int]  # part -> bytes per GPU
    update: dict[str, int]
    rows: int  # rows per sub-batch at the widest prompt that fit (0: not even one)
    max_batch_tokens: int  # the largest rollout.max_batch_tokens that fits
    micro_batch_tokens: int  # the largest optim.micro_batch_tokens that fits (multiple of 1,024)
    host_bytes: int  # host memory of the offloaded state, all ranks together
    reason: str = ""  # why it does not fit ("" when it does)

    @property
    def fits(self) -> bool:
        return not self.reason


def plan_strategy(a: Arch, w: Workload, hw: Hardware, strategy: str) -> StrategyPlan:
    """Parts and largest settings of one strategy (see the module docstring)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    usable = hw.usable()
    persistent = persistent_parts(a, w, hw, strategy)
    base = sum(persistent.values())
    # rollout: as many rows as fit, capped by rollout.max_batch_size
    per_row_kv = w.row_tokens * a.kv_bytes_per_token(kv_dtype_bytes(w))
    per_row = per_row_kv + a.vocab * 16
    fixed_prefill = w.prefill_tokens * (8 * a.hidden + 6 * a.intermediate)  # upper bound
    rows = max(0, min(w.max_rows, int((usable - base - fixed_prefill) // per_row)))
    if w.max_batch_tokens > 0:  # as configured, if that is smaller
        rows = min(rows, max(1, w.max_batch_tokens // w.row_tokens))
    shown = max(rows, 1)
    rollout = {**persistent, "KV cache (one sub-batch)": shown * per_row_kv,
               "prefill activations": prefill_bytes(a, w, shown)}
    # update: gradients, FSDP's gathered units, activations of the largest micro-batch
    p, n = a.params, hw.gpus
    grads = 0 if strategy == "fsdp-offload" else p * w.weight_bytes // (1 if strategy == "ddp" else n)
    gathered = 0 if strategy == "ddp" else 2 * max(a.layer_params, a.embed_params) * w.weight_bytes
    fixed = base + grads + gathered
    one, two = (sum(activation_bytes(a, w, t).values()) for t in (w.logprob_chunk_tokens, 2 * w.logprob_chunk_tokens))
    per_token = (two - one) / w.logprob_chunk_tokens  # linear beyond one LM-head chunk
    head = one - per_token * w.logprob_chunk_tokens
    micro = int((usable - fixed - head) // per_token) // 1024 * 1024
    micro = max(0, micro)
    # the configured micro-batch, or the largest that fits if smaller (at least one whole row)
    shown_micro = max(min(w.micro_batch_tokens, micro), w.row_tokens)
    update = {**persistent, "gradients": grads, "FSDP gathered units": gathered,
              **activation_bytes(a, w, shown_micro)}
    host = 4 * p * w.weight_bytes if strategy == "fsdp-offload" else 0  # weights, grads, m, v
    reason = ""
    if hw.host_gib > 0 and host > 0.9 * hw.host_gib * GIB:
        reason = (f"{strategy}: the offloaded state needs {gib(host):.1f} GiB of host memory, more than 90% of "
                  f"the {hw.host_gib:g} GiB given")
    elif rows < 1:
        reason = (f"{strategy}: not even one sampling row of {w.row_tokens:,} tokens fits "
                  f"({gib(base + per_row + fixed_prefill):.1f} GiB needed, {gib(usable):.1f} GiB usable)")
    elif micro < w.row_tokens:
        need = fixed + sum(activation_bytes(a, w, w.row_tokens).values())
        reason = (f"{strategy}: an update micro-batch of one {w.row_tokens:,}-token sequence needs "
                  f"{gib(need):.1f} GiB, {gib(usable):.1f} GiB usable")
    return StrategyPlan(strategy, rollout, update, rows, rows * w.row_tokens, micro, host, reason)


def plan(a: Arch, w: Workload, hw: Hardware, strategies: tuple[str, ...] = STRATEGIES) -> list[StrategyPlan]:
    return [plan_strategy(a, w, hw, s) for s in strategies]


def gib(n: float) -> float:
    return n / GIB


def format_plan(a: Arch, w: Workload, hw: Hardware, plans: list[StrategyPlan], title: str = "") -> str:
    """The plan as a table of GiB per GPU, one column per strategy, and the recommendation."""
    lines = [
        f"memory plan{(' for ' + title) if title else ''}: {a.name} ({a.params / 1e9:.2f}B parameters; "
        f"{a.layers} layers, hidden {a.hidden}, {a.heads} heads / {a.kv_heads} KV heads, "
        f"intermediate {a.intermediate}, vocab {a.vocab:,}, {'tied' if a.tied else 'untied'} embeddings)",
        f"hardware: {hw.gpus} x {hw.gpu_gib:g} GiB ({gib(hw.usable()):.1f} GiB usable each after the reserve)"
        f"{f', {hw.host_gib:g} GiB host' if hw.host_gib else ''}; "
        f"widest prompt {w.prompt_tokens:,} + response budget {w.max_new_tokens:,} tokens per row; "
        f"KV {a.kv_bytes_per_token(kv_dtype_bytes(w)) / 1024:.0f} KiB per token",
        "",
        f"{'GiB per GPU':34s}" + "".join(f"{p.strategy:>14s}" for p in plans),
    ]

    def rows(phase: str, get) -> None:
        lines.append(f"{phase}:")
        keys = list(dict.fromkeys(k for p in plans for k in get(p)))
        for k in keys:
            lines.append(f"  {k:32s}" + "".join(f"{gib(get(p).get(k, 0)):14.1f}" for p in plans))
        lines.append(f"  {'total':32s}" + "".join(f"{gib(sum(get(p).values())):14.1f}" for p in plans))

    rows("rollout (one sub-batch of the largest size that fits)", lambda p: p.rollout)
    rows(f"update (micro-batch: optim.micro_batch_tokens={w.micro_batch_tokens:,} or the largest that fits; "
         f"checkpointing {'on' if w.checkpointing else 'off'})", lambda p: p.update)
    lines.append("largest settings that fit:")
    lines.append(f"  {'rows per sub-batch':32s}" + "".join(f"{p.rows:14,d}" for p in plans))
    lines.append(f"  {'rollout.max_batch_tokens':32s}" + "".join(f"{p.max_batch_tokens:14,d}" for p in plans))
    lines.append(f"  {'optim.micro_batch_tokens':32s}" + "".join(f"{p.micro_batch_tokens:14,d}" for p in plans))
    lines.append(f"  {'host RAM, all ranks (GiB)':32s}" + "".join(f"{gib(p.host_bytes):14.1f}" for p in plans))
    lines.append(f"  {'fits':32s}" + "".join(f"{'yes' if p.fits else 'no':>14s}" for p in plans))
    best = next((p for p in plans if p.fits), None)
    if best is not None:
        micro = min(best.micro_batch_tokens, max(w.micro_batch_tokens, w.row_tokens))
        lines.append(f"recommended: {best.strategy} with --set rollout.max_batch_tokens={best.max_batch_tokens} "
                     f"--set optim.micro_batch_tokens={micro}")
    return "\n".join(lines)


def run_plan(cfg, gpus: int, gpu_gib: float, prompt_tokens: int, title: str = "",
             out=None, err=None, host_gib: float = 0.0) -> int:
    """Print the plan of a resolved ``Config``; 0 when a strategy fits, 2 (reason on ``err``) otherwise."""
    out, err = out or sys.stdout, err or sys.stderr
    if gpus < 1 or gpu_gib <= 0 or prompt_tokens < 1 or host_gib < 0:
        print("azr plan: --gpus, --gpu-mem and --prompt-tokens must be positive (--host-mem >= 0)", file=err)
        return 2
    try:
        a = resolve_arch(cfg.model.path)
    except (ValueError, OSError) as e:
        print(f"azr plan: {e}", file=err)
        return 2
    w = workload_from_config(cfg, prompt_tokens)
    hw = Hardware(gpus, gpu_gib, host_gib)
    plans = plan(a, w, hw)
    print(format_plan(a, w, hw, plans, title), file=out)
    if not any(p.fits for p in plans):
        print(f"azr plan: {title or a.name} does not fit {gpus} x {gpu_gib:g} GiB: "
              + "; ".join(p.reason for p in plans), file=err)
        return 2
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The hardware flags of ``--plan`` (shared by ``azr train`` and ``python -m azr.plan``)."""
    p.add_argument("--gpus", type=int, default=1, help="GPUs the run uses (default 1)")
    p.add_argument("--gpu-mem", type=float, default=80.0, metavar="GIB", help="memory of each GPU in GiB (default 80)")
    p.add_argument("--host-mem", type=float, default=0.0, metavar="GIB",
                   help="host memory for CPU offload, all ranks together (default: not checked)")
    p.add_argument("--prompt-tokens", type=int, default=2048, metavar="W",
                   help="widest prompt in tokens (default 2,048: a proposer prompt with 6 references)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m azr.plan", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", help="bundled preset (coder3b, coder7b, tiny)")
    p.add_argument("--config", help="YAML config file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    add_arguments(p)
    args = p.parse_args(argv)
    from azr.config import ConfigError, load_config

    try:
        cfg = load_config(args.preset, args.config, args.overrides)
    except ConfigError as e:
        print(f"azr plan: config error: {e}", file=sys.stderr)
        return 2
    return run_plan(cfg, args.gpus, args.gpu_mem, args.prompt_tokens, title=args.preset or args.config or "",
                    host_gib=args.host_mem)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Arch", "Hardware", "Workload", "StrategyPlan", "QWEN25_CODER_3B", "QWEN25_CODER_7B", "KNOWN_ARCHS",
           "STRATEGIES", "plan", "plan_strategy", "persistent_parts", "format_plan", "run_plan", "resolve_arch",
           "arch_from_config_json", "workload_from_config", "add_arguments", "main"]
