"""``distributed.strategy: ddp | fsdp``: 2 gloo processes on the CPU equal one process.

Each strategy (ddp, fsdp, fsdp with CPU offload, fsdp with gradient checkpointing) is set up
by the run loop's own hook (``azr.rl.parallel.wrap_policy``: optimizer and schedule built
before wrapping, carried over to the shards) and takes two AdamW steps (with clipping and
weight decay) on its half of a fixed global batch; the single-process reference takes the
same two steps on the whole batch: weights, moments and metrics must agree. A sharded
checkpoint (rank 0 writes the gathered weights in bf16 plus the exact fp32 master weights
and the whole optimizer state) is one HF folder that ``from_pretrained`` loads, and it resumes
on 2 processes (fsdp) and on 1 process to the reference's second step.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch
from conftest import free_port

from azr.distributed.config import DistributedConfig
from azr.rl.config import AdvantageConfig, LossConfig, OptimConfig

B = 9
LOSS = LossConfig(entropy_coef=1e-3)
OPTIM = OptimConfig(lr=1e-2, grad_clip=0.5, weight_decay=0.01, micro_batch_tokens=40)
CASES = {
    "ddp": (DistributedConfig("ddp"), False),
    "fsdp": (DistributedConfig("fsdp"), False),
    "fsdp_offload": (DistributedConfig("fsdp", cpu_offload=True), False),
    "fsdp_checkpointing": (DistributedConfig("fsdp"), True),
}


def _model(checkpointing: bool = False):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(cfg).float()
    if checkpointing:
        model.gradient_checkpointing_enable()
    return model.train()


def _batch(rows):
    """Rows ``rows`` of the global batch, advantages computed over the global batch."""
    from azr.rl.advantages import compute_advantages
    from azr.rl.batch import make_policy_batch

    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(1, 64, (int(torch.randint(2, 8, (1,), generator=g)),), generator=g).tolist()
               for _ in range(B)]
    responses = [torch.randint(1, 64, (int(torch.randint(1, 12, (1,), generator=g)),), generator=g).tolist()
                 for _ in range(B)]
    old = [(-3.0 + 0.3 * torch.randn(len(r), generator=g)).tolist() for r in responses]
    scores = torch.randint(0, 2, (B,), generator=g).float()
    groups = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 0])
    full = make_policy_batch(prompts, responses, 0, advantages=torch.zeros(B), old_logprobs=old)
    adv = compute_advantages(scores, full.response_mask, groups, AdvantageConfig()) * full.response_mask
    full = replace(full, advantages=adv)
    rows = list(rows)
    return full.select(rows, int(full.attention_mask[rows].sum(-1).max()))


def _setup(model, dcfg, info=None):
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rl.parallel import wrap_policy

    opt = build_optimizer(model, OPTIM)
    sched = build_scheduler(opt, OPTIM)
    return wrap_policy(model, opt, sched, OPTIM, dcfg, info)


def _plain_state(model, opt):
    """Whole weights and optimizer state of a model that is not sharded (CPU copies)."""
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return weights, opt.state_dict()


def _resume(folder, checkpointing=False):
    """A model, optimizer and schedule restored from checkpoint ``folder`` as the run loop does
    (weights from the HF folder, then master weights, moments, schedule, RNG)."""
    from transformers import AutoModelForCausalLM

    from azr.rl.checkpoint import load_checkpoint
    from azr.rl.optim import build_optimizer, build_scheduler

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    if checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    opt = build_optimizer(model, OPTIM)
    sched = build_scheduler(opt, OPTIM)
    load_checkpoint(folder, optimizer=opt, scheduler=sched)
    return model, opt, sched


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from azr.distributed import dist as d
    from azr.distributed.dist import shard_range
    from azr.rl.checkpoint import save_checkpoint
    from azr.rl.parallel import gathered_state, is_sharded, unwrap
    from azr.rl.update import update_step

    info = d.init_distributed(device="cpu")
    batch = _batch(shard_range(B, info.rank, info.world_size))
    result = {}
    for name, (dcfg, checkpointing) in CASES.items():
        model = _model(checkpointing)
        module, opt, sched = _setup(model, dcfg, info)
        assert is_sharded(model) == (dcfg.strategy == "fsdp")
        metrics = [update_step(module, opt, sched, batch, LOSS, OPTIM).metrics for _ in range(2)]
        gathered = gathered_state(model, opt, keep=info.is_main) or _plain_state(unwrap(module), opt)
        result[name] = {"metrics": metrics, "weights": gathered[0], "optimizer": gathered[1],
                        "lr": sched.get_last_lr()}
    # a sharded checkpoint after one step, written by rank 0 from the gathered state
    model = _model()
    module, opt, sched = _setup(model, DistributedConfig("fsdp"), info)
    update_step(module, opt, sched, batch, LOSS, OPTIM)
    gathered = gathered_state(model, opt, keep=info.is_main)
    if info.is_main:
        save_checkpoint(os.path.join(out_dir, "ckpt"), 1, model, optimizer=opt, scheduler=sched,
                        dtype="bfloat16", model_state=gathered[0], optimizer_state=gathered[1])
    d.barrier()
    # ... resumed on 2 processes (fsdp): the second step
    folder = os.path.join(out_dir, "ckpt", "step_000001")
    model, opt, sched = _resume(folder)
    module, opt, sched = _setup_resumed(model, opt, sched, info)
    res = update_step(module, opt, sched, batch, LOSS, OPTIM)
    gathered = gathered_state(model, opt, keep=info.is_main)
    result["resumed_2"] = {"metrics": res.metrics, "weights": gathered[0], "optimizer": gathered[1]}
    if info.is_main:
        torch.save(result, os.path.join(out_dir, "rank0.pt"))
    d.barrier()
    d.destroy()


def _setup_resumed(model, opt, sched, info):
    from azr.rl.parallel import wrap_policy

    return wrap_policy(model, opt, sched, OPTIM, DistributedConfig("fsdp"), info)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("fsdp")
    mp.spawn(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return out, torch.load(out / "rank0.pt", weights_only=False)


@pytest.fixture(scope="module")
def reference():
    """One process, the whole batch, two steps (same hook: no wrapping without a process group)."""
    from azr.rl.update import update_step

    model = _model()
    module, opt, sched = _setup(model, DistributedConfig("fsdp"))
    assert module is model  # one process: the bare model whatever the strategy
    batch = _batch(range(B))
    metrics = [update_step(module, opt, sched, batch, LOSS, OPTIM).metrics for _ in range(2)]
    weights, optim = _plain_state(model, opt)
    return {"metrics": metrics, "weights": weights, "optimizer": optim, "lr": sched.get_last_lr()}


def _assert_metrics(got: dict, want: dict) -> None:
    keys = set(want) - {"loss/micro_batches"}
    assert keys <= set(got)
    for k in sorted(keys):
        assert got[k] == pytest.approx(want[k], rel=1e-4, abs=1e-6), k


def _assert_state(got: dict, want: dict) -> None:
    init = _model().state_dict()
    for k, v in want["weights"].items():
        if k == "lm_head.weight" and k not in got["weights"]:  # tied: kept under the embedding's name
            continue
        assert not torch.equal(v, init[k]), f"{k} did not move"
        torch.testing.assert_close(got["weights"][k], v, rtol=1e-4, atol=1e-5, msg=k)
    g_opt, w_opt = got["optimizer"], want["optimizer"]
    assert g_opt["param_groups"] == w_opt["param_groups"]
    assert sorted(g_opt["state"]) == sorted(w_opt["state"])
    for idx, entry in w_opt["state"].items():
        for k, v in entry.items():
            torch.testing.assert_close(g_opt["state"][idx][k], v, rtol=1e-4, atol=1e-6, msg=f"{idx}/{k}")


def test_config_section():
    from azr.config import ConfigError, load_config

    cfg = load_config("tiny", overrides=["distributed.strategy=fsdp", "distributed.cpu_offload=true"])
    assert cfg.distributed == DistributedConfig("fsdp", True)
    assert load_config("tiny").distributed == DistributedConfig()  # ddp by default
    with pytest.raises(ConfigError, match="distributed.strategy"):
        load_config("tiny", overrides=["distributed.strategy=zero3"])
    with pytest.raises(ConfigError, match="cpu_offload"):
        load_config("tiny", overrides=["distributed.cpu_offload=true"])


def test_coder_presets_checkpoint_gradients_and_shard_7b():
    from azr.config import from_dict, preset_data
    from azr.config import Config

    c3, c7 = (from_dict(Config, preset_data(n)) for n in ("coder3b", "coder7b"))
    assert c3.model.gradient_checkpointing and c7.model.gradient_checkpointing
    assert c3.distributed.strategy == "ddp" and c7.distributed.strategy == "fsdp"


@pytest.mark.slow  # two spawned processes, 5 set-ups of a 2-layer model: ~30-60 s on 2 busy cores
@pytest.mark.parametrize("name", sorted(CASES))
def test_strategy_equals_one_process(two_ranks, reference, name):
    _, got = two_ranks
    for g, w in zip(got[name]["metrics"], reference["metrics"]):
        _assert_metrics(g, w)
    _assert_state(got[name], reference)
    assert got[name]["lr"] == reference["lr"]


@pytest.mark.slow
def test_sharded_checkpoint_loads_and_resumes_on_1_and_2_processes(two_ranks, reference):
    from transformers import AutoModelForCausalLM

    from azr.rl.update import update_step

    out, got = two_ranks
    folder = out / "ckpt" / "step_000001"
    loaded = AutoModelForCausalLM.from_pretrained(str(folder))  # one plain HF folder
    assert loaded.model.embed_tokens.weight.dtype == torch.bfloat16
    # 2 processes (fsdp): the second step equals the uninterrupted single-process run's
    _assert_metrics(got["resumed_2"]["metrics"], reference["metrics"][1])
    _assert_state(got["resumed_2"], reference)
    # 1 process, the same folder
    model, opt, sched = _resume(folder)
    res = update_step(model, opt, sched, _batch(range(B)), LOSS, OPTIM)
    _assert_metrics(res.metrics, reference["metrics"][1])
    weights, optim = _plain_state(model, opt)
    _assert_state({"weights": weights, "optimizer": optim}, reference)


def _rows(run_dir) -> dict[int, dict]:
    import json

    return {r["step"]: r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())}


def _same_row(got: dict, want: dict, ignore=()) -> None:
    keys = {k for k in want if not k.startswith("time/") and k != "tokens_per_s" and k not in ignore}
    assert keys <= set(got)
    for k in sorted(keys):
        if isinstance(want[k], float):
            assert got[k] == pytest.approx(want[k], rel=1e-4, abs=1e-6), k
        else:
            assert got[k] == want[k], k


@pytest.mark.slow  # three CLI runs of the tiny preset (two on 2 processes): ~50 s on 2 busy cores
def test_train_fsdp_cli_resumes_on_2_and_1_processes(tiny_model_dir, tmp_path):
    """``azr train --nproc 2 --set distributed.strategy=fsdp``: rank 0 writes one HF folder per
    checkpoint; resuming its step-1 checkpoint on 2 processes (fsdp) and on 1 process repeats
    the uninterrupted run's step 2."""
    import shutil
    import sys

    from test_train_distributed import run_cli, tiny_cmd
    from transformers import AutoModelForCausalLM

    run = tmp_path / "fsdp"
    extra = ["--set", "distributed.strategy=fsdp", "--set", "checkpoint.every=1", "--set", "checkpoint.keep_last=2"]
    r = run_cli(tiny_cmd(tiny_model_dir, run, steps=2, extra=[*extra, "--nproc", "2"]))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    want = _rows(run)
    assert sorted(want) == [1, 2]
    AutoModelForCausalLM.from_pretrained(str(run / "checkpoints" / "step_000002"))
    for nproc in (2, 1):
        copy = tmp_path / f"resume{nproc}"
        shutil.copytree(run, copy)
        shutil.rmtree(copy / "checkpoints" / "step_000002")
        (copy / "checkpoints" / "LATEST").write_text("step_000001\n")
        r = run_cli([sys.executable, "-m", "azr", "train", "--resume", str(copy), "--steps", "2",
                     "--nproc", str(nproc)])
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
        got = _rows(copy)
        assert sorted(got) == [1, 2]
        # one process runs fewer (longer) micro-batches than two: their count differs
        _same_row(got[2], want[2], ignore=("loss/micro_batches",) if nproc == 1 else ())


def test_fsdp_with_exploration_mixing_is_refused(tmp_path):
    """Off-policy rows are rescored by the unsharded inner model: not under fsdp yet (one line)."""
    from azr.config import load_config
    from azr.distributed.dist import DistInfo
    from azr.rl.rundir import RunError
    from azr.selfplay.loop import open_session

    cfg = load_config("tiny", overrides=["distributed.strategy=fsdp", "controls.explore_fraction=0.5"])
    with pytest.raises(RunError, match="strategy=ddp"):
        open_session(cfg, tmp_path, False, DistInfo(0, 2, 0, torch.device("cpu"), "gloo"))
    assert not any(tmp_path.iterdir())
