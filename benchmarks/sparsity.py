"""Throughput and memory of `azr analyze sparsity` on a synthetic multi-GB checkpoint pair.

Writes two bf16 checkpoints of ``--gb`` GB each (7B-like tensor shapes, ~1% of elements
changed) to a temporary folder, then measures, cold (pages evicted with
``posix_fadvise(DONTNEED)``) and warm (in the page cache):

- the machine's sequential read speed of the same two files (64 MiB ``readinto``);
- exact and ``--atol 1e-5`` sparsity: GB/s over both files and peak RSS (each in a fresh
  child process, ``VmHWM``), next to the RSS of a child that only imports the module.

Deletes the files afterwards. Usage: ``.venv/bin/python benchmarks/sparsity.py --gb 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
from azr.analysis.synthetic import to_stored, write_safetensors  # noqa: E402

CHILD = """
import json, sys, time
from azr.analysis.sparsity import compute_sparsity
atol = None if sys.argv[3] == "none" else float(sys.argv[3])
t = time.perf_counter()
r = compute_sparsity(sys.argv[1], sys.argv[2], atol=atol) if sys.argv[1] != "-" else None
dt = time.perf_counter() - t
# VmHWM: this process's peak RSS (ru_maxrss would carry the parent's peak across exec)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"seconds": dt, "total": r.total if r else None, "maxrss_mib": int(hwm) / 1024}))
"""


def make_pair(folder: Path, gb: float, seed: int = 0) -> tuple[Path, Path, int, int]:
    """Two checkpoint folders of about ``gb`` GB each; returns their paths, the total numel
    and the number of stored elements that differ (computed while writing)."""
    rng = np.random.default_rng(seed)
    hidden, inter = 3584, 18944  # Qwen2.5-7B shapes
    shapes = [(hidden, hidden), (512, hidden), (512, hidden), (hidden, hidden),
              (inter, hidden), (inter, hidden), (hidden, inter), (hidden,), (hidden,)]
    names = ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
             "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
             "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight"]
    per_layer = sum(int(np.prod(s)) for s in shapes) * 2
    layers = max(1, int(gb * 1e9 // per_layer))
    a_dir, b_dir = folder / "a", folder / "b"
    weight_map, numel, expected = {}, 0, 0
    for d in (a_dir, b_dir):
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"tie_word_embeddings": False}))
    layer0 = [rng.standard_normal(shape, dtype=np.float32) * 0.02 for shape in shapes]
    for i in range(layers):  # one shard per layer keeps the writer's memory small
        a, b = {}, {}
        for shape, name, x0 in zip(shapes, names, layer0):
            x = x0 + np.float32(0.001 * i)  # distinct layers without drawing fresh noise (slow)
            y = x.copy().reshape(-1)
            idx = rng.integers(0, y.size, size=max(1, y.size // 100))
            y[idx] += 0.01
            a[f"model.layers.{i}.{name}"], b[f"model.layers.{i}.{name}"] = x, y.reshape(shape)
            numel += x.size
            expected += int(np.count_nonzero(to_stored(x, "BF16").reshape(-1) != to_stored(y, "BF16")))
        fname = f"model-{i + 1:05d}-of-{layers:05d}.safetensors"
        write_safetensors(a_dir / fname, a, "BF16")
        write_safetensors(b_dir / fname, b, "BF16")
        weight_map.update({n: fname for n in a})
    for d in (a_dir, b_dir):
        (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return a_dir, b_dir, numel, expected


def files_of(*dirs: Path) -> list[Path]:
    return [f for d in dirs for f in sorted(d.glob("*.safetensors"))]


def evict(files: list[Path]) -> None:
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def read_speed(files: list[Path]) -> float:
    """GB/s of reading every file sequentially in 64 MiB blocks."""
    buf = bytearray(64 << 20)
    total, t = 0, time.perf_counter()
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                total += n
    return total / 1e9 / (time.perf_counter() - t)


def child(a: str, b: str, atol: str) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", CHILD, a, b, atol], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0, help="size of each checkpoint in GB")
    ap.add_argument("--dir", default=None, help="where to write the pair (default: a temp dir)")
    args = ap.parse_args()
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="azr_sparsity_", dir=args.dir))
    try:
        t = time.perf_counter()
        a, b, numel, expected = make_pair(tmp, args.gb)
        files = files_of(a, b)
        size = sum(f.stat().st_size for f in files) / 1e9
        print(f"pair: 2 x {size / 2:.2f} GB bf16, {numel:,} elements each, {expected:,} differ; "
              f"written in {time.perf_counter() - t:.0f} s")
        for f in files:  # make sure data is on disk so eviction really drops it
            fd = os.open(f, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        idle = child("-", "-", "none")
        print(f"child RSS after importing azr.analysis.sparsity: {idle['maxrss_mib']:.0f} MiB")
        rows = []
        for cache in ("cold", "warm"):
            if cache == "cold":
                evict(files)
            rows.append((cache, "file read (64 MiB blocks)", read_speed(files), None))
            for atol in ("none", "1e-5"):
                if cache == "cold":
                    evict(files)
                r = child(str(a), str(b), atol)
                if r["total"]["changed"] != expected:
                    raise SystemExit(f"wrong count: {r['total']['changed']} != {expected}")
                label = "sparsity exact" if atol == "none" else "sparsity atol=1e-5"
                rows.append((cache, label, size / r["seconds"], r["maxrss_mib"]))
                print(f"  {cache} {label}: total {r['total']}")
        print(f"\n{'cache':<6} {'what':<28} {'GB/s':>7} {'peak RSS MiB':>13}")
        for cache, what, gbs, rss in rows:
            print(f"{cache:<6} {what:<28} {gbs:>7.2f} {'' if rss is None else f'{rss:.0f}':>13}")
        print(f"(own process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
              f"load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
