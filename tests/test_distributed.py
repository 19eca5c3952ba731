"""Data-parallel update: 2 gloo processes == 1 process on the global batch.

There is one update step (``azr.rl.update.update_step``) and one self-play policy update
(``azr.selfplay.update.policy_update``); under torchrun they shard the batch and reduce over
the ranks, on one process every collective is a no-op.

The 2-process run shards a fixed global batch (different lengths, several micro-batches
per rank, uneven micro-batch counts, a sample with weight 0), computes advantages over the
global batch (TRR++ groups span both ranks), and takes one DDP (and one FSDP2) step. The
single-process reference is the RL core's own ``update_step`` on the whole batch. SGD
without clipping keeps the comparison sensitive to the gradient's scale (Adam's first step
and clipping would hide a wrong normalisation); ``loss/grad_norm`` is compared as well.
"""

from __future__ import annotations

import os

import pytest
import torch
from conftest import free_port

from azr.distributed.dist import all_gather_rows, shard_range
from azr.rl.parallel import global_advantages
from azr.rl.config import AdvantageConfig, LossConfig, OptimConfig

B = 11
LOSS_CFGS = {
    "token-mean": LossConfig(entropy_coef=1e-3),
    "seq-sum-norm": LossConfig(agg="seq-mean-token-sum-norm"),
}
PROMPTS = ["def f(a):", "x = 1", "<answer>", "import os", "print("]
OPTIM = OptimConfig(lr=0.5, grad_clip=None, micro_batch_tokens=48)
OFF_POLICY_ROWS = (1, 4, 9)  # rows on both ranks (rank 0 holds rows 0-5)


def _model():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    return Qwen2ForCausalLM(cfg).float()


def _data():
    """The global batch: token lists, rewards, (task, role) groups, sample weights."""
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(1, 64, (int(torch.randint(2, 9, (1,), generator=g)),), generator=g).tolist()
               for _ in range(B)]
    responses = [torch.randint(1, 64, (int(torch.randint(1, 14, (1,), generator=g)),), generator=g).tolist()
                 for _ in range(B)]
    old = [(-3.0 + 0.3 * torch.randn(len(r), generator=g)).tolist() for r in responses]
    scores = torch.randint(0, 2, (B,), generator=g).float()
    groups = torch.tensor([0, 1, 2, 3, 4, 5, 0, 1, 0, 3, 0])
    weights = [1.0] * B
    weights[3] = 0.0
    return prompts, responses, old, scores, groups, weights


def _batch(rows, adv_fn):
    from azr.rl.batch import make_policy_batch

    prompts, responses, old, scores, groups, weights = _data()
    pick = lambda xs: [xs[i] for i in rows]  # noqa: E731
    batch = make_policy_batch(pick(prompts), pick(responses), 0, advantages=torch.zeros(len(rows)),
                              old_logprobs=pick(old), sample_mask=pick(weights))
    adv = adv_fn(scores[list(rows)], batch.response_mask, groups[list(rows)], AdvantageConfig())
    from dataclasses import replace

    return replace(batch, advantages=adv * batch.response_mask)


def _config(mini_batch: int = 0, group: int = 0):
    from dataclasses import replace

    from azr.config import Config

    return replace(Config(), optim=replace(OPTIM, ppo_mini_batch=mini_batch),
                   loss=LossConfig(entropy_coef=1e-3, token_mean_group=group))


#: policy_update variants run on 2 ranks and on one process: (name, off-policy rows, mini-batch,
#: token-mean group)
POLICY_CASES = (("policy_update", (), 0, 0), ("policy_update_offpolicy", OFF_POLICY_ROWS, 0, 0),
                ("policy_update_minibatches", (), 4, 0),  # 11 rows in chunks of 4: chunks cross the ranks
                ("policy_update_token_groups", (), 0, 3))  # groups of 3 rows, one across the ranks


def _pairs():
    """The global batch as SFT (prompt ids, target ids) pairs."""
    prompts, responses, *_ = _data()
    return list(zip(prompts, responses))


def _sft_config():
    from azr.baselines.config import BaselineConfig

    return BaselineConfig(optim=OPTIM)


def _rollouts(off_policy: tuple[int, ...] = ()):
    """The global batch as self-play rollouts (group g = GROUPS[g]); rows ``off_policy`` were
    drawn by a behaviour sampler (their recorded log-probs are mu's)."""
    from azr.rollout.types import Completion
    from azr.selfplay.rollouts import Rollout
    from azr.tasks.types import GROUPS

    prompts, responses, old, scores, groups, _ = _data()
    out = []
    for i, (p, r, lp, s, g) in enumerate(zip(prompts, responses, old, scores.tolist(), groups.tolist())):
        task, role = GROUPS[g]
        c = Completion(tuple(r), "", tuple(lp), "eos", tuple(p))
        out.append(Rollout(task, role, "", c, s, off_policy=i in off_policy))
    return out


def _worker(rank: int, world: int, port: int, out_dir: str, model_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from azr.distributed import dist as d
    from azr.rl.parallel import unwrap, wrap_ddp, wrap_fsdp
    from azr.rl.update import update_step

    info = d.init_distributed(device="cpu")
    rows = shard_range(B, info.rank, info.world_size)
    batch = _batch(rows, global_advantages)
    result = {"rows": list(rows), "adv": batch.advantages}
    for name, loss_cfg in LOSS_CFGS.items():
        for kind, wrap in (("ddp", wrap_ddp), ("fsdp", wrap_fsdp)):
            if kind == "fsdp" and name != "token-mean":
                continue
            module = wrap(_model(), info)
            opt = torch.optim.SGD(module.parameters(), lr=OPTIM.lr)
            res = update_step(module, opt, None, batch, loss_cfg, OPTIM, temperature=0.9)
            state = unwrap(module).state_dict()
            state = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone()
                     for k, v in state.items()}
            ent = all_gather_rows(res.entropy)
            result[f"{kind}/{name}"] = {"state": state, "metrics": res.metrics, "entropy": ent}
    # the self-play level: policy update over the global rollouts, sharded inside
    from azr.distributed.sharded import ShardedSandbox
    from azr.executor import ExecutorConfig, Job, Sandbox
    from azr.selfplay.update import policy_update

    for name, off, mini, group in POLICY_CASES:
        module = wrap_ddp(_model(), info)
        opt = torch.optim.SGD(module.parameters(), lr=OPTIM.lr)
        result[name] = policy_update(module, opt, None, _rollouts(off), _config(mini, group), 0, info=info)
        result[f"{name}_state"] = {k: v.clone() for k, v in unwrap(module).state_dict().items()}
    # SFT: the RL core's update step with the sft loss, this rank's block of the pairs
    from azr.baselines.sft import sft_update

    module = wrap_ddp(_model(), info)
    opt = torch.optim.SGD(module.parameters(), lr=OPTIM.lr)
    result["sft_update"], result["sft_rows"] = sft_update(module, opt, None, _pairs(), _sft_config(), 0, info)
    result["sft_update_state"] = {k: v.clone() for k, v in unwrap(module).state_dict().items()}
    # the sharded sandbox: each rank runs its block, everyone gets every result in order
    jobs = [Job("x = 2", f"x ** {i}") for i in range(5)]
    with Sandbox(ExecutorConfig(workers=1)) as sb:
        result["sandbox"] = [r.value for r in ShardedSandbox(sb, info).run(jobs)]
    # the sharded engine: each rank samples its block, everyone gets every completion in order
    from azr.distributed.sharded import ShardedEngine
    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_policy
    from azr.rollout.types import SamplingParams

    model, tok = load_policy(ModelConfig(path=model_dir, device="cpu"))
    engine = ShardedEngine(HFEngine(model, tok, RolloutConfig(max_batch_size=1)), info)
    outs = engine.generate(PROMPTS, SamplingParams(temperature=0.0, max_new_tokens=6))
    result["generate"] = [[c.token_ids for c in cs] for cs in outs]
    if info.is_main:
        torch.save(result, os.path.join(out_dir, "rank0.pt"))
    d.barrier()
    d.destroy()


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory, tiny_model_dir):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, free_port(), str(out), str(tiny_model_dir)), nprocs=2, join=True)
    return torch.load(out / "rank0.pt", weights_only=False)


def _reference(loss_cfg: LossConfig):
    from azr.rl.advantages import compute_advantages
    from azr.rl.update import update_step

    model = _model()
    batch = _batch(range(B), compute_advantages)
    opt = torch.optim.SGD(model.parameters(), lr=OPTIM.lr)
    res = update_step(model, opt, None, batch, loss_cfg, OPTIM, temperature=0.9)
    return model.state_dict(), res, batch


def test_shard_range_covers_in_order():
    for n in range(0, 9):
        for world in range(1, 5):
            blocks = [list(shard_range(n, r, world)) for r in range(world)]
            assert sum(blocks, []) == list(range(n))
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


@pytest.mark.parametrize("kind,name", [("ddp", "token-mean"), ("ddp", "seq-sum-norm"), ("fsdp", "token-mean")])
def test_two_ranks_equal_one_process(two_rank_results, kind, name):
    ref_state, ref, ref_batch = _reference(LOSS_CFGS[name])
    got = two_rank_results[f"{kind}/{name}"]
    # advantages: rank 0's rows of the global computation (TRR++ groups span both ranks)
    rows = two_rank_results["rows"]
    adv0 = two_rank_results["adv"]
    torch.testing.assert_close(adv0, ref_batch.advantages[rows, : adv0.shape[1]])
    init = _model().state_dict()
    for k, v in ref_state.items():
        assert not torch.equal(v, init[k]) or k.endswith("inv_freq"), f"{k} did not move"
        torch.testing.assert_close(got["state"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    keys = set(ref.metrics) - {"loss/micro_batches"}
    assert keys <= set(got["metrics"])
    for k in sorted(keys):
        assert got["metrics"][k] == pytest.approx(ref.metrics[k], rel=1e-5, abs=1e-7), k
    torch.testing.assert_close(got["entropy"], ref.entropy, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,off,mini,group", POLICY_CASES)
def test_two_ranks_policy_update_equals_selfplay_policy_update(two_rank_results, name, off, mini, group):
    """The trainer-level update (azr.selfplay.update.policy_update) on one process vs 2 ranks:
    same parameters, same logged metrics (entropy and advantage metrics of every (task, role)
    group included; with off-policy rows, the importance-weight metrics too)."""
    from azr.selfplay.update import policy_update

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=OPTIM.lr)
    want = policy_update(model, opt, None, _rollouts(off), _config(mini, group), 0)
    got = two_rank_results[name]
    assert want["loss/optimizer_steps"] == (3 if mini else 1)
    assert set(got) == set(want)
    if off:
        assert want["explore/fraction"] == pytest.approx(len(off) / B) and "explore/ess" in want
    for k in sorted(set(want) - {"loss/micro_batches"}):
        if want[k] is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-7), k
    for k, v in model.state_dict().items():
        torch.testing.assert_close(two_rank_results[f"{name}_state"][k], v, rtol=1e-5, atol=1e-6)


def test_two_ranks_sft_update_equals_one_process(two_rank_results):
    from azr.baselines.sft import sft_update

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=OPTIM.lr)
    want, rows = sft_update(model, opt, None, _pairs(), _sft_config(), 0)
    got = two_rank_results["sft_update"]
    assert set(got) == set(want) and want["loss/nll"] > 0
    for k in sorted(set(want) - {"loss/micro_batches"}):
        assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-7), k
    torch.testing.assert_close(two_rank_results["sft_rows"], rows, rtol=1e-5, atol=1e-6)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(two_rank_results["sft_update_state"][k], v, rtol=1e-5, atol=1e-6)


def test_sharded_sandbox_gathers_all_results_in_order(two_rank_results):
    assert two_rank_results["sandbox"] == [repr(2**i) for i in range(5)]


def test_sharded_engine_gathers_all_completions_in_order(two_rank_results, tiny_policy):
    from azr.rollout.config import RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.types import SamplingParams

    model, tok = tiny_policy
    want = HFEngine(model, tok, RolloutConfig(max_batch_size=1)).generate(
        PROMPTS, SamplingParams(temperature=0.0, max_new_tokens=6))
    assert two_rank_results["generate"] == [[c.token_ids for c in cs] for cs in want]


def test_launch_builds_the_torchrun_command():
    import sys

    from azr.distributed.launch import torchrun_command

    cmd = torchrun_command(4, ["train", "--preset", "tiny"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=4" in cmd and "--standalone" in cmd
    assert cmd[-5:] == ["-m", "azr", "train", "--preset", "tiny"]
    multi = torchrun_command(8, ["train"], nnodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29500)
    assert "--node-rank=1" in multi and "--master-addr=10.0.0.1" in multi and "--standalone" not in multi


def test_make_sandbox_local_backend():
    from azr.distributed.ray_sandbox import make_sandbox
    from azr.executor import ExecutorConfig, Job, Sandbox

    with make_sandbox(ExecutorConfig(workers=1), "local") as sb:
        assert isinstance(sb, Sandbox)
        assert sb.run([Job("y = 3", "y * 2")])[0].value == "6"
    with pytest.raises(ValueError):
        make_sandbox(ExecutorConfig(), "nope")


def test_single_process_bare_and_wrapped_models_take_the_same_step():
    """One update path: on one process ``wrap_ddp`` gives the bare ``LogprobModule`` and every
    collective is a no-op, so the wrapped model and the bare model take the same step."""
    from azr.rl.advantages import compute_advantages
    from azr.rl.optim import build_optimizer
    from azr.rl.parallel import LogprobModule, unwrap, wrap_ddp
    from azr.rl.update import update_step

    batch = _batch(range(B), compute_advantages)
    cfg = OptimConfig(lr=1e-2, micro_batch_tokens=40)
    outs = []
    for wrap in (lambda m: m, wrap_ddp):
        model = _model()
        opt = build_optimizer(model, cfg)
        module = wrap(model)
        res = update_step(module, opt, None, batch, LossConfig(), cfg)
        outs.append((unwrap(module).state_dict(), res))
    assert isinstance(wrap_ddp(_model()), LogprobModule)
    (s1, r1), (s2, r2) = outs
    for k in s1:
        torch.testing.assert_close(s2[k], s1[k], rtol=0, atol=0)
    assert r2.metrics == pytest.approx(r1.metrics, rel=1e-12)
    torch.testing.assert_close(r2.logprobs, r1.logprobs, rtol=0, atol=0)
