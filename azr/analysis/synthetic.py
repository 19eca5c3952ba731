"""Synthetic run directories and checkpoints in the documented layout (tests, benchmarks, demos).

Everything is seeded and exact: ``perturb`` changes a known number of stored elements, so
sparsity tests can assert exact counts. Writers are torch-free (safetensors files are written
byte by byte: 8-byte header length, JSON header, raw little-endian data).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import yaml

from azr.analysis.rundir import ROLES, TASKS

_NP_OF = {"F64": np.float64, "F32": np.float32, "F16": np.float16}


def to_stored(x: np.ndarray, dtype: str) -> np.ndarray:
    """Array in its stored form: floats for F64/F32/F16, uint16 bits for BF16 (round to nearest even)."""
    if dtype in _NP_OF:
        return np.ascontiguousarray(x, dtype=_NP_OF[dtype])
    if dtype == "BF16":
        bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
        rounded = bits + 0x7FFF + ((bits >> 16) & 1)
        return (rounded >> 16).astype(np.uint16)
    raise ValueError(f"unsupported synthetic dtype {dtype!r} (F64, F32, F16, BF16)")


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str = "F32",
                      metadata: dict[str, str] | None = None) -> None:
    """Write ``{name: float array}`` as a safetensors file, every tensor stored as ``dtype``."""
    stored = {n: to_stored(a, dtype) for n, a in tensors.items()}
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, arr in stored.items():
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for arr in stored.values():
            f.write(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())


def tiny_llama_tensors(seed: int = 0, layers: int = 2, hidden: int = 16, intermediate: int = 32,
                       vocab: int = 64, tied: bool = True) -> dict[str, np.ndarray]:
    """Random float32 parameters with Llama/Qwen2 names (no ``lm_head`` when ``tied``)."""
    rng = np.random.default_rng(seed)
    t: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.normal(0, 0.02, (vocab, hidden))}
    for i in range(layers):
        p = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t[p + f"self_attn.{proj}.weight"] = rng.normal(0, 0.02, (hidden, hidden))
        t[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.02, (hidden,))
        t[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.02, (intermediate, hidden))
        t[p + "mlp.up_proj.weight"] = rng.normal(0, 0.02, (intermediate, hidden))
        t[p + "mlp.down_proj.weight"] = rng.normal(0, 0.02, (hidden, intermediate))
        t[p + "input_layernorm.weight"] = np.ones(hidden)
        t[p + "post_attention_layernorm.weight"] = np.ones(hidden)
    t["model.norm.weight"] = np.ones(hidden)
    if not tied:
        t["lm_head.weight"] = rng.normal(0, 0.02, (vocab, hidden))
    return {k: v.astype(np.float32) for k, v in t.items()}


def perturb(tensors: dict[str, np.ndarray], changes: dict[str, int], seed: int = 0,
            delta: float = 0.5) -> dict[str, np.ndarray]:
    """Copy of ``tensors`` where exactly ``changes[name]`` elements of each named tensor are
    shifted by ``delta`` (large enough to change the stored bits in any float format)."""
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in tensors.items()}
    for name, n in changes.items():
        flat = out[name].reshape(-1)
        idx = rng.choice(flat.size, size=n, replace=False)
        flat[idx] += np.float32(delta)
    return out


def llama_config(layers: int = 2, hidden: int = 16, intermediate: int = 32, vocab: int = 64,
                 tied: bool = True) -> dict:
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
            "intermediate_size": intermediate, "num_hidden_layers": layers, "num_attention_heads": 2,
            "num_key_value_heads": 2, "vocab_size": vocab, "tie_word_embeddings": tied}


def write_checkpoint(folder: Path, tensors: dict[str, np.ndarray], dtype: str = "F32", shards: int = 1,
                     config: dict | None = None) -> Path:
    """An HF-style folder: ``config.json`` + ``model.safetensors`` (or ``shards`` files and an index)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config if config is not None else llama_config(
        tied="lm_head.weight" not in tensors), indent=1))
    if shards <= 1:
        write_safetensors(folder / "model.safetensors", tensors, dtype)
        return folder
    names = list(tensors)
    per = math.ceil(len(names) / shards)
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s * per:(s + 1) * per]}
        write_safetensors(folder / fname, part, dtype)
        weight_map.update({n: fname for n in part})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


# --- a whole run directory --------------------------------------------------------------------

def _metrics_row(step: int, steps: int, rng: np.random.Generator, reward: str, frozen: bool) -> dict:
    x = step / max(steps, 1)
    row: dict = {"step": step}
    for t_i, task in enumerate(TASKS):
        for role in ROLES:
            g = f"{role}/{task}"
            base_len = 120 + 40 * t_i + (60 if role == "propose" else 0)
            row[f"{g}/reward_mean"] = float(np.clip(0.2 + 0.5 * x + rng.normal(0, 0.03), -1, 1))
            row[f"{g}/reward_std"] = float(0.3 + rng.uniform(0, 0.1))
            row[f"{g}/response_length_mean"] = float(base_len * (1 + 0.8 * x) + rng.normal(0, 5))
            row[f"{g}/response_length_max"] = float(base_len * 2.5 * (1 + 0.5 * x))
            drift = 0.0 if (frozen and role == "propose") else 0.35 * x
            row[f"entropy/{g}"] = float(0.9 - drift + 0.05 * t_i + rng.normal(0, 0.01))
            row[f"advantage/{g}/mean"] = 0.0
            row[f"advantage/{g}/std"] = 1.0
            row[f"{g}/format_error_rate"] = float(max(0.0, 0.5 * (1 - x) + rng.normal(0, 0.02)))
        row[f"solve/{task}/accuracy"] = float(np.clip(0.15 + 0.5 * x + rng.normal(0, 0.03), 0, 1))
        row[f"propose/{task}/valid_rate"] = float(np.clip(0.3 + 0.5 * x + rng.normal(0, 0.03), 0, 1))
        row[f"propose/{task}/solve_rate"] = float(np.clip(0.7 - 0.3 * x + rng.normal(0, 0.03), 0, 1))
        row[f"buffer/{task}/size"] = 1 + 4 * step
        row[f"buffer/{task}/distinct_programs"] = 1 + 3 * step
    row["entropy/overall"] = float(np.mean([row[f"entropy/{r}/{t}"] for t in TASKS for r in ROLES]))
    row.update({"loss/policy": float(rng.normal(0, 0.05)), "loss/clipfrac": 0.01, "loss/approx_kl": 1e-4,
                "loss/grad_norm": float(0.5 + rng.uniform()), "time/propose": 2.0, "time/execute": 0.5,
                "time/solve": 3.0, "time/update": 4.0, "time/step": 9.5, "tokens_per_s": 900.0})
    if step % 5 == 0:
        bonus = {"learnability": 0.0, "eq3": 0.03}.get(reward, 0.01)
        row["val/cruxeval_o/accuracy"] = float(np.clip(0.1 + 0.2 * x + bonus + rng.normal(0, 0.01), 0, 1))
        row["val/cruxeval_i/accuracy"] = float(np.clip(0.05 + 0.15 * x + bonus + rng.normal(0, 0.01), 0, 1))
    return row


def _buffer_entry(task: str, step: int, k: int, rng: np.random.Generator) -> dict:
    prog = f"def f(a):\n    return a * {k % 7 + 1} + {step}"
    entry: dict = {"hash": f"{task}-{step}-{k}", "type": task, "step": step, "program": prog,
                   "solve_rate": float(np.clip(0.8 - step / 60 + rng.normal(0, 0.1), 0, 1))}
    if task == "induction":
        xs = [int(rng.integers(0, 9)) + i for i in range(4)]
        entry.update(inputs=[str(x) for x in xs], outputs=[repr(x * (k % 7 + 1) + step) for x in xs],
                     message="multiply then add")
    else:
        x = int(rng.integers(0, 9))
        entry.update(input=str(x), output=repr(x * (k % 7 + 1) + step))
    return entry


def write_run(root: Path, name: str = "run", steps: int = 30, checkpoint_every: int = 10,
              changed_per_step: int = 40, proposer_reward: str = "learnability", frozen: bool = False,
              dtype: str = "F32", seed: int = 0, entries_per_step: int = 2, kind: str = "selfplay") -> Path:
    """A run directory as ``azr train`` writes it: ``steps`` metric rows with every documented
    key, a checkpoint at step 0 and every ``checkpoint_every`` steps whose weights differ from
    the previous one in exactly ``sum(checkpoint_changes(changed_per_step * checkpoint_every))``
    elements, step-tagged buffers (also snapshotted in each checkpoint) and one samples file.
    ``kind="rlvr"``: a baseline run instead (no buffers, no proposer keys, only
    ``entropy/overall``, ``reward/mean`` and response length among the metrics)."""
    if kind not in ("selfplay", "rlvr"):
        raise ValueError(f"kind must be 'selfplay' or 'rlvr', got {kind!r}")
    run = Path(root) / name
    rng = np.random.default_rng(seed)
    (run / "buffers").mkdir(parents=True, exist_ok=True)
    (run / "samples").mkdir(exist_ok=True)
    config = {"run": {"seed": seed, "run_dir": str(run)},
              "model": {"path": "tiny", "dtype": "float32"},
              "selfplay": {"steps": steps, "propose_batch": 4, "solve_batch": 4, "train_propose": not frozen},
              "reward": {"proposer": proposer_reward, "format_aware": True},
              "checkpoint": {"every": checkpoint_every, "keep": 0}}
    if kind == "rlvr":
        config = {"run": config["run"], "model": config["model"], "rlvr": {"dataset": "synthetic", "steps": steps}}
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with open(run / "metrics.jsonl", "w") as f:
        for s in range(1, steps + 1):
            row = _metrics_row(s, steps, rng, proposer_reward, frozen)
            if kind == "rlvr":
                row = {"step": s, "entropy/overall": row["entropy/overall"], "reward/mean": row["solve/deduction/accuracy"],
                       "response_length/mean": row["solve/deduction/response_length_mean"]}
            f.write(json.dumps(row) + "\n")
    entries = {t: [_buffer_entry(t, -1, 0, rng)] for t in TASKS}  # the zero triplet (step -1, as azr train)
    tensors = tiny_llama_tensors(seed)
    ckpt_steps = list(range(0, steps + 1, checkpoint_every))
    for i, s in enumerate(ckpt_steps):
        for t in TASKS:
            entries[t] += [_buffer_entry(t, st, k, rng) for st in range(max(1, s - checkpoint_every + 1), s + 1)
                           for k in range(entries_per_step)]
        if i:
            tensors = perturb(tensors, checkpoint_changes(changed_per_step * checkpoint_every), seed=seed + s)
        folder = write_checkpoint(run / "checkpoints" / f"step_{s:06d}", tensors, dtype)
        if kind == "rlvr":
            continue
        (folder / "buffers").mkdir(exist_ok=True)
        for t in TASKS:
            (folder / "buffers" / f"{t}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries[t]))
    (run / "checkpoints" / "LATEST").write_text(f"step_{ckpt_steps[-1]:06d}\n")
    if kind == "rlvr":
        (run / "buffers").rmdir()
        return run
    for t in TASKS:
        (run / "buffers" / f"{t}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries[t]))
    sample = {"step": steps, "task": "deduction", "role": "solve", "prompt": "...", "completion": "...",
              "reward": 1.0}
    (run / "samples" / f"step_{steps:06d}.jsonl").write_text(json.dumps(sample) + "\n")
    return run


def checkpoint_changes(n: int) -> dict[str, int]:
    """How ``write_run`` spreads ``n`` changed elements over tensors (half MLP, a quarter
    attention, a quarter embeddings; capped by tensor sizes of ``tiny_llama_tensors``)."""
    mlp, attn = n // 2, n // 4
    return {"model.layers.0.mlp.up_proj.weight": min(mlp, 512),
            "model.layers.1.self_attn.q_proj.weight": min(attn, 256),
            "model.embed_tokens.weight": min(n - mlp - attn, 1024)}
