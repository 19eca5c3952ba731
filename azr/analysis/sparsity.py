"""Update sparsity between two checkpoints: S = 1 - ||B - A||_0 / n (torch-free, streamed).

An element is *changed* when its stored bits differ (exact mode: bf16 works, NaN == NaN
bitwise, -0.0 != +0.0); with ``atol`` it is changed when the bits differ *and* not
``|b - a| < atol`` (the study's public code used 1e-5). In ``atol`` mode the exact count is
produced in the same pass, so both are reported. Tensors are compared chunk by chunk
(``chunk_bytes`` per side), so memory stays at a few chunk buffers for any model size.

Tied weights are counted once: an ``lm_head`` absent from the file, or present while the
config says ``tie_word_embeddings``, or two names pointing at the same bytes.

Checkpoints stored in different float dtypes (an fp32 checkpoint against its bf16 base) are
compared in the coarser dtype (fewer mantissa bits: BF16 < F16 < F32 < F64): the finer side is
rounded to nearest even, as ``torch.Tensor.to`` does, and a note in the result says which
tensors were cast. Other dtype mismatches are an error; nothing falls back silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from azr.analysis.safetensors_io import (
    CheckpointError,
    ChunkReader,
    TensorInfo,
    list_tensors,
    read_config,
)

MODULE_TYPES: tuple[str, ...] = ("attention", "mlp", "embeddings", "norms", "lm_head", "other")

_LM_HEAD = re.compile(r"(^|\.)(lm_head|embed_out)\.(weight|bias)$|^output\.weight$")
_EMBED = re.compile(r"(embed_tokens|embed_in|wte|wpe|word_embeddings|position_embeddings|tok_embeddings)")
_NORM = re.compile(r"(norm|ln_\d|ln_f|layernorm)", re.IGNORECASE)
_ATTN = re.compile(r"(attn|attention|q_proj|k_proj|v_proj|o_proj|query_key_value|qkv)")
_MLP = re.compile(r"(mlp|feed_forward|ffn|gate_proj|up_proj|down_proj|c_fc|fc1|fc2|dense_h_to_4h|dense_4h_to_h|experts)")
_LAYER = re.compile(r"\.(?:layers|h|layer|blocks|block)\.(\d+)\.")


def module_type(name: str) -> str:
    """Coarse module type of a parameter name (one of ``MODULE_TYPES``); norms win over
    attention/MLP so that ``post_attention_layernorm`` and ``q_norm`` count as norms."""
    if _LM_HEAD.search(name):
        return "lm_head"
    if _EMBED.search(name):
        return "embeddings"
    if _NORM.search(name):
        return "norms"
    if _ATTN.search(name):
        return "attention"
    if _MLP.search(name):
        return "mlp"
    return "other"


def layer_index(name: str) -> int | None:
    """Transformer block index in a parameter name (``model.layers.3.mlp...`` -> 3), else None."""
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


# --- decoding stored bits to floats (only needed in atol mode) ---------------------------

def _fp8_table(exp_bits: int, man_bits: int, bias: int, ieee_special: bool) -> np.ndarray:
    """float32 value of each of the 256 codes of an 8-bit float format."""
    codes = np.arange(256, dtype=np.int64)
    sign = np.where(codes >> 7, -1.0, 1.0)
    exp = (codes >> man_bits) & ((1 << exp_bits) - 1)
    man = codes & ((1 << man_bits) - 1)
    normal = (1 + man / (1 << man_bits)) * np.exp2(exp.astype(np.float64) - bias)
    sub = (man / (1 << man_bits)) * np.exp2(1.0 - bias)
    vals = sign * np.where(exp == 0, sub, normal)
    top = exp == (1 << exp_bits) - 1
    if ieee_special:  # e5m2: inf and NaN like IEEE
        vals = np.where(top & (man == 0), sign * np.inf, vals)
        vals = np.where(top & (man != 0), np.nan, vals)
    else:  # e4m3fn: no inf, only S.1111.111 is NaN
        vals = np.where(top & (man == (1 << man_bits) - 1), np.nan, vals)
    return vals.astype(np.float32)


_FP8 = {"F8_E4M3": lambda: _fp8_table(4, 3, 7, False), "F8_E5M2": lambda: _fp8_table(5, 2, 15, True)}
_SIGNED = {"I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8}


def decode(bits: np.ndarray, dtype: str) -> np.ndarray:
    """Values of raw stored bits (unsigned ints of the element width) as floats."""
    if dtype == "F64":
        return bits.view(np.float64)
    if dtype == "F32":
        return bits.view(np.float32)
    if dtype == "F16":
        return bits.view(np.float16).astype(np.float32)
    if dtype == "BF16":
        return (bits.astype(np.uint32) << 16).view(np.float32)
    if dtype in _FP8:
        return _FP8[dtype]()[bits]
    if dtype in _SIGNED:
        return bits.view(_SIGNED[dtype]).astype(np.float64)
    return bits.astype(np.float64)  # unsigned ints and BOOL


# --- casting to a coarser float format (cross-dtype comparisons) --------------------------

_MANTISSA_BITS = {"BF16": 7, "F16": 10, "F32": 23, "F64": 52}


def coarser_dtype(a: str, b: str) -> str | None:
    """The coarser of two float dtypes (fewer mantissa bits), or None when either is not one
    of BF16, F16, F32, F64."""
    if a not in _MANTISSA_BITS or b not in _MANTISSA_BITS:
        return None
    return a if _MANTISSA_BITS[a] <= _MANTISSA_BITS[b] else b


def encode(values: np.ndarray, dtype: str) -> np.ndarray:
    """Raw bits of float ``values`` in ``dtype`` (BF16, F16, F32, F64), rounded to nearest even
    (NaN stays NaN, keeping its sign)."""
    if dtype == "F64":
        return values.astype(np.float64).view(np.uint64)
    if dtype == "F32":
        return values.astype(np.float32).view(np.uint32)
    if dtype == "F16":
        with np.errstate(over="ignore"):
            return values.astype(np.float16).view(np.uint16)
    if dtype == "BF16":
        bits = values.astype(np.float32).view(np.uint32)
        rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
        nan = np.isnan(values)
        if nan.any():
            rounded = np.where(nan, (bits >> np.uint32(16)) | np.uint32(0x0040), rounded)
        return rounded.astype(np.uint16)
    raise ValueError(f"cannot encode to {dtype}")


# --- counting ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorStat:
    """Changed-element counts of one tensor."""

    name: str
    module: str  # one of MODULE_TYPES
    layer: int | None
    shape: tuple[int, ...]
    dtype: str
    numel: int
    changed: int  # under the requested criterion (exact, or atol when given)
    changed_exact: int  # bits differ


def _differing(ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The elements (raw bits) of two chunks that differ, as two aligned 1-D arrays.

    Narrow dtypes are first compared as 64-bit words (4x fewer comparisons for bf16), then
    only the differing words are compared element by element: updates are sparse."""
    width = ca.itemsize
    head = ca.size - ca.size % (8 // width) if width < 8 else ca.size
    if width < 8 and head:
        wa, wb = ca[:head].view(np.uint64), cb[:head].view(np.uint64)
        words = np.flatnonzero(wa != wb)  # integer gather beats a boolean mask when sparse
        sa, sb = wa[words].view(ca.dtype), wb[words].view(cb.dtype)
        if head < ca.size:
            sa, sb = np.concatenate([sa, ca[head:]]), np.concatenate([sb, cb[head:]])
    else:
        sa, sb = ca, cb
    diff = sa != sb
    return sa[diff], sb[diff]


def _compare_chunks(ca: np.ndarray, cb: np.ndarray, dtype: str, atol: float | None) -> tuple[int, int]:
    """(changed, changed_exact) between two same-dtype chunks of raw bits."""
    da, db = _differing(ca, cb)
    n_diff = da.size
    if atol is None or n_diff == 0:
        return n_diff, n_diff
    va, vb = decode(da, dtype), decode(db, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(vb - va) < atol  # NaN -> False -> changed
    return n_diff - int(np.count_nonzero(close)), n_diff


def count_changed(a: TensorInfo, b: TensorInfo, reader_a: ChunkReader, reader_b: ChunkReader,
                  atol: float | None = None) -> tuple[int, int]:
    """(changed, changed_exact) element counts between two same-shape tensors.

    Same dtype: stored bits are compared. Two float dtypes: the finer side is cast to the
    coarser one first (``coarser_dtype``); the readers must then yield chunks of the same
    element count (``compute_sparsity`` sizes them so)."""
    changed = exact = 0
    coarse = a.dtype if a.dtype == b.dtype else coarser_dtype(a.dtype, b.dtype)
    if coarse is None:
        raise CheckpointError(f"{a.name}: cannot compare dtype {a.dtype} with {b.dtype}")
    for ca, cb in zip(reader_a.chunks(a), reader_b.chunks(b), strict=True):
        if a.dtype != coarse:
            ca = encode(decode(ca, a.dtype), coarse)
        if b.dtype != coarse:
            cb = encode(decode(cb, b.dtype), coarse)
        c, e = _compare_chunks(ca, cb, coarse, atol)
        changed += c
        exact += e
    return changed, exact


def _tied(config: dict) -> bool:
    if "tie_word_embeddings" in config:
        return bool(config["tie_word_embeddings"])
    text = config.get("text_config") or {}
    return bool(text.get("tie_word_embeddings", False))


def comparable_tensors(path: Path) -> tuple[dict[str, TensorInfo], list[str]]:
    """Tensors to compare in one checkpoint (tied copies dropped) and notes on what was dropped."""
    tensors = list_tensors(path)
    notes: list[str] = []
    seen: dict[tuple[Path, int, int], str] = {}
    for name in sorted(tensors):
        info = tensors[name]
        key = (info.file, info.start, info.nbytes)
        if info.nbytes and key in seen:
            notes.append(f"{name} shares storage with {seen[key]}: counted once")
            del tensors[name]
        else:
            seen[key] = name
    if _tied(read_config(path)):
        heads = [n for n in tensors if module_type(n) == "lm_head"]
        if heads and any(module_type(n) == "embeddings" for n in tensors):
            for n in heads:
                notes.append(f"{n} is tied to the input embeddings (tie_word_embeddings): counted once")
                del tensors[n]
    return tensors, notes


@dataclass
class SparsityResult:
    """Per-tensor counts of one checkpoint pair, with the aggregations the study reports."""

    a: str
    b: str
    atol: float | None
    tensors: list[TensorStat]
    notes: list[str] = field(default_factory=list)

    def _agg(self, key: Callable[[TensorStat], object]) -> dict:
        out: dict = {}
        for t in self.tensors:
            k = key(t)
            if k is None:
                continue
            acc = out.setdefault(k, [0, 0, 0])
            acc[0] += t.numel
            acc[1] += t.changed
            acc[2] += t.changed_exact
        return {k: self._record(*v) for k, v in out.items()}

    def _record(self, numel: int, changed: int, changed_exact: int) -> dict:
        rec = {"numel": numel, "changed": changed, "sparsity": 1.0 - changed / numel if numel else 1.0}
        if self.atol is not None:
            rec["changed_exact"] = changed_exact
            rec["sparsity_exact"] = 1.0 - changed_exact / numel if numel else 1.0
        return rec

    @property
    def total(self) -> dict:
        return self._agg(lambda t: "total").get("total", self._record(0, 0, 0))

    @property
    def by_module(self) -> dict:
        agg = self._agg(lambda t: t.module)
        return {m: agg[m] for m in MODULE_TYPES if m in agg}

    @property
    def by_layer(self) -> dict:
        agg = self._agg(lambda t: t.layer)
        return {str(k): agg[k] for k in sorted(agg)}

    def to_json(self, with_tensors: bool = True) -> dict:
        out = {
            "a": self.a, "b": self.b, "atol": self.atol,
            "criterion": "exact" if self.atol is None else f"|delta| >= {self.atol:g}",
            "total": self.total, "by_module": self.by_module, "by_layer": self.by_layer,
            "notes": self.notes,
        }
        if with_tensors:
            out["tensors"] = [
                {"name": t.name, "module": t.module, "layer": t.layer, "shape": list(t.shape),
                 "dtype": t.dtype, **self._record(t.numel, t.changed, t.changed_exact)}
                for t in self.tensors
            ]
        return out


def _check_match(ta: dict[str, TensorInfo], tb: dict[str, TensorInfo], a: Path, b: Path) -> None:
    only_a, only_b = sorted(set(ta) - set(tb)), sorted(set(tb) - set(ta))
    if only_a or only_b:
        raise CheckpointError(
            f"tensor names differ between {a} and {b}: only in A {only_a[:5]}"
            f"{'...' if len(only_a) > 5 else ''}, only in B {only_b[:5]}{'...' if len(only_b) > 5 else ''}")
    for name in sorted(ta):
        x, y = ta[name], tb[name]
        if x.shape != y.shape:
            raise CheckpointError(f"{name}: shape {list(x.shape)} in {a} but {list(y.shape)} in {b}")
        if x.dtype != y.dtype and coarser_dtype(x.dtype, y.dtype) is None:
            raise CheckpointError(f"{name}: dtype {x.dtype} in {a} but {y.dtype} in {b}: only float "
                                  "dtypes (BF16, F16, F32, F64) can be compared across dtypes")


def compute_sparsity(a: str | Path, b: str | Path, atol: float | None = None,
                     chunk_bytes: int = 32 << 20) -> SparsityResult:
    """Sparsity of the update from checkpoint ``a`` to checkpoint ``b`` (folders or files)."""
    if atol is not None and not atol > 0:
        raise ValueError(f"atol must be positive, got {atol}")
    a, b = Path(a), Path(b)
    ta, notes_a = comparable_tensors(a)
    tb, notes_b = comparable_tensors(b)
    _check_match(ta, tb, a, b)
    stats: list[TensorStat] = []
    casts: dict[tuple[str, str], int] = {}
    readers: dict[tuple[int, int], tuple[ChunkReader, ChunkReader]] = {}
    try:
        for name in sorted(ta):
            x, y = ta[name], tb[name]
            pair = readers.get((x.itemsize, y.itemsize))
            if pair is None:  # chunks of the same element count on both sides
                elems = max(8, chunk_bytes // max(x.itemsize, y.itemsize)) // 8 * 8
                pair = (ChunkReader(elems * x.itemsize), ChunkReader(elems * y.itemsize))
                readers[(x.itemsize, y.itemsize)] = pair
            changed, exact = count_changed(x, y, pair[0], pair[1], atol)
            dtype = x.dtype
            if x.dtype != y.dtype:
                dtype = coarser_dtype(x.dtype, y.dtype)
                casts[(x.dtype, y.dtype)] = casts.get((x.dtype, y.dtype), 0) + 1
            stats.append(TensorStat(name, module_type(name), layer_index(name), x.shape, dtype,
                                    x.numel, changed, exact))
    finally:
        for ra, rb in readers.values():
            ra.close()
            rb.close()
    notes = sorted(set(notes_a) | set(notes_b))
    for (da, db), n in sorted(casts.items()):
        coarse = coarser_dtype(da, db)
        finer, side = (db, "B") if coarse == da else (da, "A")
        notes.append(f"dtype differs in {n} tensors (A {da}, B {db}): {side} cast from {finer} to {coarse} "
                     "(round to nearest even) before comparing")
    return SparsityResult(str(a), str(b), atol, stats, notes)


def checkpoint_pairs(checkpoints: list[Path], mode: str, base: Path | None = None) -> list[tuple[Path, Path]]:
    """Pairs to compare: ``consecutive`` (c0->c1, c1->c2, ...), ``first`` (c0->ci) or
    ``base`` (base->ci for every checkpoint)."""
    if mode == "base":
        if base is None:
            raise ValueError("mode 'base' needs a base checkpoint")
        return [(base, c) for c in checkpoints]
    if len(checkpoints) < 2:
        raise CheckpointError(f"mode {mode!r} needs at least two checkpoints, found {len(checkpoints)}")
    if mode == "consecutive":
        return list(zip(checkpoints[:-1], checkpoints[1:]))
    if mode == "first":
        return [(checkpoints[0], c) for c in checkpoints[1:]]
    raise ValueError(f"unknown mode {mode!r} (consecutive, first, base)")


def format_table(results: Iterable[SparsityResult], per_tensor: bool = False) -> str:
    """Human-readable table: totals per pair; module and layer breakdown for a single pair."""
    results = list(results)
    lines: list[str] = []

    def row(label: str, rec: dict) -> str:
        s = f"{label:<44} {rec['numel']:>14,} {rec['changed']:>14,} {rec['sparsity']:>9.4%}"
        if "sparsity_exact" in rec:
            s += f" {rec['sparsity_exact']:>9.4%}"
        return s

    atol = results[0].atol if results else None
    head = f"{'':<44} {'numel':>14} {'changed':>14} {'sparsity':>9}"
    if atol is not None:
        head += f" {'exact':>9}"
    if len(results) > 1:
        lines.append(head.replace(" " * 44, f"{'A -> B':<44}", 1))
        for r in results:
            lines.append(row(f"{Path(r.a).name} -> {Path(r.b).name}", r.total))
        for r in results:
            lines += [f"note ({Path(r.a).name} -> {Path(r.b).name}): {n}" for n in r.notes if "cast" in n]
        return "\n".join(lines)
    for r in results:
        crit = "exact bits" if r.atol is None else f"|delta| >= {r.atol:g} (exact in last column)"
        lines += [f"A: {r.a}", f"B: {r.b}", f"changed = {crit}", "", head.replace(" " * 44, f"{'module':<44}", 1)]
        lines += [row(m, rec) for m, rec in r.by_module.items()]
        if r.by_layer:
            lines += ["", head.replace(" " * 44, f"{'layer':<44}", 1)]
            lines += [row(k, rec) for k, rec in r.by_layer.items()]
        if per_tensor:
            lines += ["", head.replace(" " * 44, f"{'tensor':<44}", 1)]
            lines += [row(t.name[-44:], r._record(t.numel, t.changed, t.changed_exact)) for t in r.tensors]
        lines += ["", row("TOTAL", r.total)]
        lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
