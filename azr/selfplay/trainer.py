"""The self-play training loop: set-up, steps, validation, checkpoints, resume.

``train(cfg, resume=False)`` runs ``cfg.selfplay.steps`` steps into ``cfg.run.run_dir``:

    collect (azr.selfplay.step) -> policy_update (azr.selfplay.update) -> metrics, samples
    -> every checkpoint.every steps (and the last): checkpoint with the buffers

Resume (``resume=True``): the newest complete checkpoint gives the model, optimizer,
scheduler, RNG states, buffers and step; ``metrics.jsonl`` rows written after it (by the
killed run) are dropped. Every random choice of step t is seeded from (seed, t), so the
resumed run's metrics equal an uninterrupted run's on CPU (``time/*`` aside).

The sandbox is a separate small process pool started once; it evaluates every piece of
model output (this process never does). Its failures become rewards, never exceptions.
``executor.backend: ray`` puts the pools in Ray actors (``azr.distributed.ray_sandbox``).

Data-parallel (``azr train --nproc N``, or torchrun with ``RANK``/``WORLD_SIZE`` set):
every rank runs this loop with identical control state; generation, sandbox jobs and the
policy update are split across ranks (``azr.distributed.sharded``) and the update's
gradient is that of the global batch. Only rank 0 writes the run directory (config,
metrics, samples, buffers, checkpoints, train.log). Without torchrun's variables this is a
single process and nothing of the distributed machinery is used.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from azr.config import Config, save_config, to_dict
from azr.selfplay.buffer import Buffers
from azr.selfplay.metrics import MetricsWriter, truncate_metrics
from azr.selfplay.progress import Progress
from azr.selfplay.stats import buffer_metrics, group_metrics, samples_record

log = logging.getLogger("azr.train")

#: The bundled tiny model's folder (relative to the working directory or the repository).
BUNDLED_TINY = "models/azr-tiny"


def resolve_model_path(cfg: Config, run_dir: Path) -> str:
    """The model folder to load. The bundled tiny model falls back to a random-initialised tiny
    model (built once in ``<run>/base_model``) while ``models/azr-tiny`` is absent."""
    path = cfg.model.path
    if not path:
        raise ValueError("model.path is empty: give a model folder (or hub id), e.g. --set model.path=...")
    candidates = [Path(path), Path(__file__).resolve().parents[2] / path]
    for c in candidates:
        if (c / "config.json").is_file():
            return str(c.resolve())
    if path.rstrip("/") == BUNDLED_TINY:
        fallback = run_dir / "base_model"
        if not (fallback / "config.json").is_file():
            log.warning("%s is absent: using a RANDOM-INITIALISED tiny model (built in %s); it will "
                        "not write valid programs, so rewards stay near their floor", BUNDLED_TINY, fallback)
            import shutil

            from azr.rollout.tiny import build_tiny_model

            tmp = run_dir / ".base_model.tmp"  # built aside, then renamed: a kill leaves no half model
            shutil.rmtree(tmp, ignore_errors=True)
            build_tiny_model(tmp, seed=cfg.run.seed)
            tmp.rename(fallback)
        else:
            log.warning("%s is absent: using the random-initialised tiny model in %s", BUNDLED_TINY, fallback)
        return str(fallback)
    return path  # a hub id, where a hub is reachable


def setup_logging(run_dir: Path, main: bool = True) -> list[logging.Handler]:
    """Log ``azr.*`` to ``<run>/train.log`` (rank 0 only) and stderr; return the handlers added."""
    root = logging.getLogger("azr")
    added: list[logging.Handler] = []
    if main:
        fh = logging.FileHandler(run_dir / "train.log")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        added.append(fh)
    if not any(type(h) is logging.StreamHandler for h in root.handlers):
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        added.append(sh)
    for h in added:
        root.addHandler(h)
    root.setLevel(logging.INFO)
    return added


def write_samples(run_dir: Path, step: int, records: list[dict]) -> None:
    """Write one step's sample records to ``<run>/samples/step_<step>.jsonl`` (one JSON per line)."""
    d = run_dir / "samples"
    d.mkdir(exist_ok=True)
    with open(d / f"step_{step:06d}.jsonl", "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def _buffer_files(buffers: Buffers, tmp: Path) -> dict[str, Path]:
    buffers.save(tmp)
    return {f"buffers/{p.name}": p for p in sorted(tmp.iterdir())}


def train(cfg: Config, resume: bool = False) -> Path:
    """Run self-play training; return the run directory."""
    from azr.distributed.dist import destroy, init_distributed

    run_dir = Path(cfg.run.run_dir)
    if not resume and (run_dir / "checkpoints" / "LATEST").exists():
        raise FileExistsError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                              "or choose another --run-dir")
    dp = init_distributed(device=cfg.model.device)  # a no-op without torchrun's environment
    if dp.distributed and has_off_policy_rows(cfg):
        destroy()
        raise ValueError("off-policy rows (controls.explore_fraction > 0, or controls.propose_temperature != "
                         "rollout.temperature) are reweighted on one process only: run without torchrun")
    try:
        if dp.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        _barrier(dp)
        handlers = setup_logging(run_dir, main=dp.is_main)
        try:
            return _train(cfg, resume, run_dir, dp)
        finally:
            for h in handlers:
                logging.getLogger("azr").removeHandler(h)
                h.close()
    finally:
        if dp.distributed:
            destroy()


def has_off_policy_rows(cfg: Config) -> bool:
    """Will self-play rollouts need importance weights (exploration mixing, or a proposer
    temperature other than the rollout temperature)?"""
    t = cfg.controls.propose_temperature
    return cfg.controls.explore_fraction > 0 or (t is not None and t != cfg.rollout.temperature)


def _barrier(dp) -> None:
    if dp.distributed:
        from azr.distributed.dist import barrier

        barrier()


@dataclass
class Session:
    """What the loop works with: the policy, its optimiser, the engine and the buffers."""

    cfg: Config
    run_dir: Path
    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    engine: Any
    buffers: Buffers
    start: int  # steps already done (from the checkpoint resumed)
    resumed: bool
    dp: Any = None  # azr.distributed.dist.DistInfo (None: single process)
    module: Any = None  # what the update trains: the model, or DDP(LogprobModule(model))
    explorer: Any = None  # behaviour sampler of exploration mixing (None: the engine)

    @property
    def is_main(self) -> bool:
        return self.dp is None or self.dp.is_main


def open_session(cfg: Config, run_dir: Path, resume: bool, dp=None) -> Session:
    """Load the model (base, or the newest checkpoint with optimizer/RNG/buffers on resume).

    ``dp`` (``DistInfo``, data-parallel): rank 0 resolves the model folder first (it may build
    the fallback tiny model), the engine is sharded and the update module DDP-wrapped."""
    import torch

    from azr.selfplay.offpolicy import behaviour_engine
    from azr.rl.checkpoint import latest_checkpoint, load_checkpoint
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_model, load_tokenizer

    ckpt = latest_checkpoint(run_dir / "checkpoints") if resume else None
    if resume and ckpt is None:
        log.info("no checkpoint in %s yet: starting from step 0", run_dir / "checkpoints")
    torch.manual_seed(cfg.run.seed)
    if cfg.run.torch_threads:
        torch.set_num_threads(cfg.run.torch_threads)
    distributed = dp is not None and dp.distributed
    if ckpt is not None:
        model_path = str(ckpt)
    elif distributed:
        model_path = resolve_model_path(cfg, run_dir) if dp.is_main else ""
        _barrier(dp)  # the fallback tiny model is built once, by rank 0
        if not dp.is_main:
            model_path = resolve_model_path(cfg, run_dir)
    else:
        model_path = resolve_model_path(cfg, run_dir)
    model_cfg = replace(cfg.model, path=model_path)
    if distributed and dp.device.type == "cuda":
        model_cfg = replace(model_cfg, device=str(dp.device))  # one GPU per local rank
    model = load_model(model_cfg)
    tokenizer = load_tokenizer(model_path, trust_remote_code=cfg.model.trust_remote_code)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim)
    buffers = Buffers(cfg.selfplay.buffer_cap, cfg.selfplay.cap_policy, cfg.run.seed)
    start = 0
    if ckpt is not None:
        start = load_checkpoint(ckpt, optimizer=optimizer, scheduler=scheduler).step
        buffers.load(ckpt / "buffers")
        log.info("resumed from %s (step %d)", ckpt, start)
    log.info("model %s loaded (%.1fM parameters) on %s", model_path,
             sum(p.numel() for p in model.parameters()) / 1e6, next(model.parameters()).device)
    engine = HFEngine(model, tokenizer, cfg.rollout)
    explorer = behaviour_engine(cfg.model, cfg.rollout, cfg.controls, engine, tokenizer)
    module = model
    if distributed:
        from azr.distributed.sharded import ShardedEngine
        from azr.distributed.update import wrap_ddp

        engine = ShardedEngine(engine, dp)
        module = wrap_ddp(model, dp)
    return Session(cfg, run_dir, model, tokenizer, optimizer, scheduler, engine, buffers, start, ckpt is not None,
                   dp=dp, module=module, explorer=explorer)


def run_step(s: Session, env, val_sets: list, step: int, progress: Progress) -> dict:
    """One self-play step: experience, update, validation when due; the step's metrics."""
    from azr.selfplay.step import collect
    from azr.selfplay.update import policy_update
    from azr.selfplay.validation import validate

    cfg = s.cfg
    t0 = time.perf_counter()
    progress.phase(step, "rollout")
    exp = collect(cfg, s.engine, env, s.buffers, step, s.explorer)
    progress.phase(step, "update")
    t1 = time.perf_counter()
    if s.dp is not None and s.dp.distributed:
        from azr.distributed.sharded import distributed_policy_update

        metrics = distributed_policy_update(s.module, s.optimizer, s.scheduler, exp.rollouts, cfg,
                                            s.tokenizer.pad_token_id, info=s.dp)
    else:
        metrics = policy_update(s.model, s.optimizer, s.scheduler, exp.rollouts, cfg, s.tokenizer.pad_token_id)
    timings = {**exp.timings, "update": time.perf_counter() - t1}
    metrics.update(group_metrics(exp.rollouts))
    metrics.update(exp.metrics)
    metrics.update(buffer_metrics(s.buffers, step))
    if val_sets and step % cfg.selfplay.val_every == 0:
        progress.phase(step, "validate")
        t2 = time.perf_counter()
        metrics.update(validate(s.engine, env, val_sets, cfg.rollout.max_new_tokens, cfg.rollout.stop))
        timings["validate"] = time.perf_counter() - t2
    gen_time = sum(timings.get(k, 0.0) for k in ("propose", "solve_rate", "solve"))
    metrics["tokens_per_s"] = exp.generated_tokens / gen_time if gen_time > 0 else 0.0
    metrics["tokens/generated"] = exp.generated_tokens
    if cfg.selfplay.samples_per_group and s.is_main:
        write_samples(s.run_dir, step, samples_record(exp.rollouts, cfg.selfplay.samples_per_group))
    timings["step"] = time.perf_counter() - t0
    metrics.update({f"time/{k}": v for k, v in timings.items()})
    return metrics


def save(s: Session, step: int) -> None:
    """Checkpoint ``step`` (model, tokenizer, optimizer, scheduler, RNG, buffers), atomically."""
    from azr.rl.checkpoint import save_checkpoint

    with tempfile.TemporaryDirectory(dir=s.run_dir) as tmp:
        save_checkpoint(s.run_dir / "checkpoints", step, s.model, s.tokenizer, optimizer=s.optimizer,
                        scheduler=s.scheduler, extra={"run_seed": s.cfg.run.seed},
                        extra_files=_buffer_files(s.buffers, Path(tmp)), policy=s.cfg.checkpoint)


def _train(cfg: Config, resume: bool, run_dir: Path, dp) -> Path:
    from azr.distributed.ray_sandbox import make_sandbox
    from azr.selfplay.env import CodeEnv
    from azr.selfplay.validation import build_val_sets

    if dp.is_main:
        save_config(cfg, run_dir / "config.yaml")
    s = open_session(cfg, run_dir, resume, dp)
    writer = None
    if dp.is_main:
        truncate_metrics(run_dir / "metrics.jsonl", s.start)
        writer = MetricsWriter(run_dir, cfg.run.sinks, cfg.run.wandb_project, to_dict(cfg))
    progress = Progress(cfg.selfplay.steps, s.start, enabled=cfg.run.progress and dp.is_main)
    try:
        with make_sandbox(cfg.executor) as sandbox:
            if dp.distributed:
                from azr.distributed.sharded import ShardedSandbox

                sandbox = ShardedSandbox(sandbox, dp)
            env = CodeEnv(sandbox)
            log.info("sandbox ready: %d workers", cfg.executor.workers)
            if not s.resumed:
                s.buffers.seed_zero()
                if cfg.selfplay.seed_buffer_size:
                    from azr.selfplay.seeding import seed_buffers

                    seed_buffers(cfg, s.engine, env, s.buffers)
            val_sets = []
            if cfg.selfplay.val_every:
                val_sets = build_val_sets(cfg.selfplay.val_sets, cfg.selfplay.val_size, cfg.run.data_dir,
                                          cfg.run.seed, env)
                log.info("validation sets: %s", {v.name: len(v.tasks) for v in val_sets})
            last_save = 0.0
            for step in range(s.start + 1, cfg.selfplay.steps + 1):
                metrics = run_step(s, env, val_sets, step, progress)
                metrics["time/checkpoint"] = last_save  # the previous step's save, if any
                if dp.is_main:
                    s.buffers.save(run_dir / "buffers")
                    writer.write(step, metrics)  # before the checkpoint: a resume never loses a row
                last_save = 0.0
                if (cfg.checkpoint.every and step % cfg.checkpoint.every == 0) or step == cfg.selfplay.steps:
                    progress.phase(step, "checkpoint")
                    t = time.perf_counter()
                    if dp.is_main:
                        save(s, step)
                    _barrier(dp)  # no rank runs ahead of (or exits before) the checkpoint
                    last_save = time.perf_counter() - t
                progress.done(step, metrics)
    finally:
        if writer is not None:
            writer.close()
    return run_dir
