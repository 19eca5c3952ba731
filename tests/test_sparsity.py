"""Update sparsity on constructed checkpoints with a known number of changed elements."""

from __future__ import annotations

import json

import numpy as np
import pytest

from azr.analysis.safetensors_io import CheckpointError, list_tensors
from azr.analysis.sparsity import (
    checkpoint_pairs,
    compute_sparsity,
    decode,
    format_table,
    layer_index,
    module_type,
)
from azr.analysis.synthetic import perturb, tiny_llama_tensors, to_stored, write_checkpoint, write_safetensors

CHANGES = {"model.layers.0.mlp.up_proj.weight": 37, "model.layers.1.self_attn.k_proj.weight": 5,
           "model.embed_tokens.weight": 11, "model.layers.1.input_layernorm.weight": 3}


def _pair(tmp_path, dtype="F32", shards=1, tied=True, changes=CHANGES):
    a = tiny_llama_tensors(seed=1, tied=tied)
    b = perturb(a, changes, seed=2)
    return (write_checkpoint(tmp_path / "a", a, dtype, shards), write_checkpoint(tmp_path / "b", b, dtype, shards), a)


@pytest.mark.parametrize("dtype,shards", [("F32", 1), ("BF16", 1), ("F16", 1), ("F32", 3), ("BF16", 4)])
def test_exact_counts(tmp_path, dtype, shards):
    pa, pb, a = _pair(tmp_path, dtype, shards)
    r = compute_sparsity(pa, pb, chunk_bytes=64)  # tiny chunks: exercise chunk boundaries
    n = sum(x.size for x in a.values())
    changed = sum(CHANGES.values())
    assert r.total == {"numel": n, "changed": changed, "sparsity": 1 - changed / n}
    assert r.by_module["mlp"]["changed"] == 37
    assert r.by_module["attention"]["changed"] == 5
    assert r.by_module["embeddings"]["changed"] == 11
    assert r.by_module["norms"]["changed"] == 3
    assert r.by_layer["0"]["changed"] == 37 and r.by_layer["1"]["changed"] == 8
    per = {t.name: t.changed for t in r.tensors}
    assert {k: v for k, v in per.items() if v} == CHANGES


def test_identical_checkpoints_fully_sparse(tmp_path):
    pa, _, _ = _pair(tmp_path)
    r = compute_sparsity(pa, pa)
    assert r.total["changed"] == 0 and r.total["sparsity"] == 1.0


def test_sharded_equals_single_file(tmp_path):
    single = compute_sparsity(*_pair(tmp_path / "s", "BF16", 1)[:2])
    sharded = compute_sparsity(*_pair(tmp_path / "m", "BF16", 3)[:2])
    assert single.total == sharded.total and single.by_module == sharded.by_module


def test_atol_reports_both_and_ignores_small_deltas(tmp_path):
    a = tiny_llama_tensors(seed=3)
    b = perturb(a, {"model.layers.0.mlp.down_proj.weight": 20}, seed=4, delta=1e-7)
    b = perturb(b, {"model.layers.1.mlp.down_proj.weight": 9}, seed=5, delta=0.1)
    pa, pb = write_checkpoint(tmp_path / "a", a), write_checkpoint(tmp_path / "b", b)
    exact = compute_sparsity(pa, pb)
    tol = compute_sparsity(pa, pb, atol=1e-5)
    n_tiny = exact.by_layer["0"]["changed"]  # fp32 rounding may swallow a few 1e-7 steps
    assert 0 < n_tiny <= 20 and exact.by_layer["1"]["changed"] == 9
    assert tol.total["changed"] == 9
    assert tol.total["changed_exact"] == exact.total["changed"]
    assert tol.total["sparsity_exact"] == exact.total["sparsity"]
    assert "changed_exact" not in exact.total


def test_nan_bitwise_equal_and_signed_zero(tmp_path):
    x = np.array([np.nan, 0.0, 1.0, 2.0], dtype=np.float32)
    y = np.array([np.nan, -0.0, 1.0, np.nan], dtype=np.float32)
    write_safetensors(tmp_path / "a.safetensors", {"w": x})
    write_safetensors(tmp_path / "b.safetensors", {"w": y})
    r = compute_sparsity(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    assert r.total["changed"] == 2  # -0.0 vs 0.0 (bits) and 2.0 -> NaN; NaN == NaN bitwise
    r = compute_sparsity(tmp_path / "a.safetensors", tmp_path / "b.safetensors", atol=1e-5)
    assert r.total["changed"] == 1 and r.total["changed_exact"] == 2


def test_bf16_decode_matches_torch():
    torch = pytest.importorskip("torch")
    vals = np.array([0.1, -3.5, 1e-8, 65504.0, np.inf], dtype=np.float32)
    bits = to_stored(vals, "BF16")
    ref = torch.tensor(vals).to(torch.bfloat16)
    assert np.array_equal(bits, ref.view(torch.int16).numpy().view(np.uint16))
    assert np.array_equal(decode(bits, "BF16"), ref.float().numpy())


@pytest.mark.parametrize("dtype", ["F8_E4M3", "F8_E5M2"])
def test_fp8_decode_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    tdt = {"F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}[dtype]
    codes = np.arange(256, dtype=np.uint8)
    ref = torch.from_numpy(codes.copy()).view(tdt).float().numpy()
    np.testing.assert_array_equal(decode(codes, dtype), ref)


def test_reader_agrees_with_safetensors_library(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors import safe_open
    from safetensors.torch import save_file

    t = {"x": torch.randn(5, 3).to(torch.bfloat16), "y": torch.arange(7, dtype=torch.int64)}
    save_file(t, tmp_path / "m.safetensors")
    infos = list_tensors(tmp_path / "m.safetensors")
    assert {n: (i.dtype, i.shape) for n, i in infos.items()} == {"x": ("BF16", (5, 3)), "y": ("I64", (7,))}
    t2 = {"x": t["x"].clone(), "y": t["y"].clone()}
    t2["x"][0, :2] += 1
    save_file(t2, tmp_path / "n.safetensors")
    r = compute_sparsity(tmp_path / "m.safetensors", tmp_path / "n.safetensors")
    assert r.total["changed"] == 2
    with safe_open(tmp_path / "n.safetensors", "pt") as f:
        assert f.get_tensor("x").dtype == torch.bfloat16


def test_tied_lm_head_counted_once(tmp_path):
    a = tiny_llama_tensors(seed=1, tied=True)
    a_with_head = dict(a, **{"lm_head.weight": a["model.embed_tokens.weight"].copy()})
    b = perturb(a_with_head, {"model.embed_tokens.weight": 6, "lm_head.weight": 6})
    pa = write_checkpoint(tmp_path / "a", a_with_head)  # config says tie_word_embeddings: True
    cfg = json.loads((pa / "config.json").read_text())
    cfg["tie_word_embeddings"] = True
    (pa / "config.json").write_text(json.dumps(cfg))
    pb = write_checkpoint(tmp_path / "b", b, config=cfg)
    r = compute_sparsity(pa, pb)
    assert r.total["numel"] == sum(x.size for x in a.values())
    assert r.total["changed"] == 6 and "lm_head" not in r.by_module
    assert any("tie_word_embeddings" in n for n in r.notes)
    # untied: the head is its own tensor and counts
    cfg["tie_word_embeddings"] = False
    for p in (pa, pb):
        (p / "config.json").write_text(json.dumps(cfg))
    assert compute_sparsity(pa, pb).by_module["lm_head"]["changed"] == 6


@pytest.mark.slow
def test_hf_save_pretrained_tied_model(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg)
    model.save_pretrained(tmp_path / "a")
    with torch.no_grad():
        model.model.embed_tokens.weight[3, :4] += 1.0
        model.model.layers[1].mlp.down_proj.weight[0, :5] += 1.0
    model.save_pretrained(tmp_path / "b")
    r = compute_sparsity(tmp_path / "a", tmp_path / "b")
    n = sum(p.numel() for p in model.parameters())  # parameters() lists tied weights once
    assert r.total["numel"] == n and r.total["changed"] == 9
    assert r.by_module["embeddings"]["changed"] == 4 and r.by_module["mlp"]["changed"] == 5


def test_mismatches_are_clear_errors(tmp_path):
    a = tiny_llama_tensors(seed=1)
    pa = write_checkpoint(tmp_path / "a", a)
    b = dict(a)
    b["model.norm.weight"] = np.ones(17, dtype=np.float32)
    with pytest.raises(CheckpointError, match="shape"):
        compute_sparsity(pa, write_checkpoint(tmp_path / "b", b))
    ints = dict(a)
    ints["model.norm.weight"] = np.arange(16, dtype=np.int64)
    pi = tmp_path / "i"
    pi.mkdir()
    (pi / "config.json").write_text((pa / "config.json").read_text())
    write_safetensors(pi / "model.safetensors", {k: v for k, v in a.items() if k != "model.norm.weight"}, "F32")
    _append_int_tensor(pi / "model.safetensors", "model.norm.weight", ints["model.norm.weight"])
    with pytest.raises(CheckpointError, match="dtype"):
        compute_sparsity(pa, pi)
    c = {k: v for k, v in a.items() if "layers.1." not in k}
    with pytest.raises(CheckpointError, match="names differ"):
        compute_sparsity(pa, write_checkpoint(tmp_path / "d", c))
    with pytest.raises(CheckpointError, match="no such"):
        compute_sparsity(pa, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no \\*.safetensors"):
        compute_sparsity(pa, tmp_path / "empty")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(CheckpointError):
        compute_sparsity(tmp_path / "junk.safetensors", tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="atol"):
        compute_sparsity(pa, pa, atol=-1)


def test_malformed_headers_rejected(tmp_path):
    import struct

    for i, header in enumerate([b"[1, 2]", b'{"w": {"dtype": "F32"}}', b'{"w": {"dtype": "Q9", "shape": [1], '
                                b'"data_offsets": [0, 4]}}']):
        path = tmp_path / f"h{i}.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
        with pytest.raises(CheckpointError, match="malformed|unsupported"):
            list_tensors(path)


def test_truncated_file_rejected(tmp_path):
    write_safetensors(tmp_path / "a.safetensors", {"w": np.zeros(100, np.float32)})
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "b.safetensors").write_bytes(data[:-40])
    with pytest.raises(CheckpointError, match="inconsistent"):
        compute_sparsity(tmp_path / "a.safetensors", tmp_path / "b.safetensors")


def test_module_and_layer_names():
    assert module_type("model.layers.0.post_attention_layernorm.weight") == "norms"
    assert module_type("model.layers.0.self_attn.q_norm.weight") == "norms"
    assert module_type("model.layers.0.self_attn.o_proj.weight") == "attention"
    assert module_type("transformer.h.2.attn.c_attn.weight") == "attention"
    assert module_type("transformer.h.2.mlp.c_fc.weight") == "mlp"
    assert module_type("transformer.wte.weight") == "embeddings"
    assert module_type("lm_head.weight") == "lm_head"
    assert module_type("model.rotary_emb.inv_freq") == "other"
    assert layer_index("model.layers.12.mlp.up_proj.weight") == 12
    assert layer_index("transformer.h.3.ln_1.weight") == 3
    assert layer_index("model.norm.weight") is None


def test_pairs_and_table(tmp_path):
    cs = [tmp_path / f"c{i}" for i in range(3)]
    assert checkpoint_pairs(cs, "consecutive") == [(cs[0], cs[1]), (cs[1], cs[2])]
    assert checkpoint_pairs(cs, "first") == [(cs[0], cs[1]), (cs[0], cs[2])]
    assert checkpoint_pairs(cs, "base", base=tmp_path / "b") == [(tmp_path / "b", c) for c in cs]
    with pytest.raises(CheckpointError):
        checkpoint_pairs(cs[:1], "consecutive")
    pa, pb, _ = _pair(tmp_path)
    r = compute_sparsity(pa, pb, atol=1e-5)
    text = format_table([r], per_tensor=True)
    assert "TOTAL" in text and "mlp" in text and "exact" in text
    js = r.to_json()
    assert set(js["total"]) == {"numel", "changed", "sparsity", "changed_exact", "sparsity_exact"}
    assert json.loads(json.dumps(js))["by_layer"]["0"]["changed"] == 37


def _append_int_tensor(path, name, values):
    """Rewrite a safetensors file with one more I64 tensor (the writer helper is float-only)."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(path))
    tensors[name] = values
    save_file(tensors, str(path))


def test_encode_bf16_and_f16_match_torch():
    import torch

    from azr.analysis.sparsity import encode

    rng = np.random.default_rng(0)
    vals = np.concatenate([rng.standard_normal(4096).astype(np.float32) * 10.0 ** rng.integers(-40, 38, 4096),
                           np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, 3.3895e38, 1.00390625, 1.01171875],
                                    dtype=np.float32)]).astype(np.float32)
    ref = torch.from_numpy(vals).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(encode(vals, "BF16"), ref)
    ref16 = torch.from_numpy(vals).to(torch.float16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(encode(vals, "F16"), ref16)
    assert np.isnan(decode(encode(np.array([np.nan], dtype=np.float32), "BF16"), "BF16")).all()


@pytest.mark.parametrize("fine,coarse", [("F32", "BF16"), ("F32", "F16"), ("F16", "BF16")])
def test_cross_dtype_compares_in_the_coarser_dtype_and_says_so(tmp_path, fine, coarse):
    import torch

    tdt = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    a = tiny_llama_tensors(seed=1, tied=True)
    b = perturb(a, CHANGES, seed=2)
    # small drift everywhere in the fine copy: most of it vanishes when rounded to the coarse dtype
    b = {k: (v * np.float32(1 + 1e-6)).astype(np.float32) for k, v in b.items()}
    pa = write_checkpoint(tmp_path / "a", a, coarse)  # e.g. the bf16 base
    pb = write_checkpoint(tmp_path / "b", b, fine)  # e.g. an fp32 checkpoint
    expect = 0
    for name in a:
        if name == "lm_head.weight":
            continue
        ta = torch.from_numpy(a[name]).to(tdt[coarse])
        tb = torch.from_numpy(b[name]).to(tdt[fine]).to(tdt[coarse])
        expect += int((ta.view(torch.int16) != tb.view(torch.int16)).sum())
    for chunk in (8, 1 << 20):
        r = compute_sparsity(pa, pb, chunk_bytes=chunk)
        assert r.total["changed"] == expect
        assert any(f"B cast from {fine} to {coarse}" in n for n in r.notes)
        assert {t.dtype for t in r.tensors} == {coarse}
    assert "cast from" in format_table([r, r])  # stated in the multi-pair table too
    assert "cast from" in format_table([r])
    rev = compute_sparsity(pb, pa)
    assert rev.total["changed"] == expect and any(f"A cast from {fine} to {coarse}" in n for n in rev.notes)


def test_report_states_casts_and_a_failed_preferred_pair(tmp_path):
    from azr.analysis.report import RunInfo, fig_sparsity
    from azr.analysis.rundir import Checkpoint

    a = tiny_llama_tensors(seed=1)
    b = perturb(a, CHANGES, seed=2)
    run = tmp_path / "run"
    c1 = write_checkpoint(run / "checkpoints" / "step_000001", a, "F32")
    c2 = write_checkpoint(run / "checkpoints" / "step_000002", b, "F32")
    ckpts = [Checkpoint(1, c1), Checkpoint(2, c2)]
    out = tmp_path / "out"
    out.mkdir()
    # a bf16 base: compared in bf16 after casting the fp32 checkpoint, and the caption says so
    write_checkpoint(run / "base_model", a, "BF16")
    f = fig_sparsity([RunInfo(run, "r", {}, [], False, ckpts)], out)
    assert "base model -> step 2" in f.caption and "cast from F32 to BF16" in f.caption
    # a base that cannot be compared: the first -> last pair is used, and the caption says why
    write_checkpoint(run / "base_model", {k: v for k, v in a.items() if "layers.1." not in k}, "F32")
    f = fig_sparsity([RunInfo(run, "r", {}, [], False, ckpts)], out)
    assert "step 1 -> step 2" in f.caption and "preferred pair, which failed" in f.caption
    assert "names differ" in f.caption
