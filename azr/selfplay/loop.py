"""The run loop every trainer shares (self-play, RLVR, SFT): set-up, steps, checkpoints, resume.

``run_loop(cfg, resume, program)`` runs ``program.total_steps`` steps into ``cfg.run.run_dir``:

    (torchrun's process group, if any) -> run directory, train.log, config.yaml
    -> open_session: model (base, or the newest checkpoint with optimizer, scheduler, RNG),
       rollout engine, behaviour sampler, update module
    -> metrics.jsonl truncated to the checkpoint's step (a resumed run drops the killed
       run's later rows), metric sinks, progress line
    -> sandbox (process pool, or Ray actors), ``program.prepare``
    -> per step: ``program.step`` -> metrics row (rank 0) -> checkpoint every
       ``checkpoint.every`` steps and at the last (with ``program.state_files``)

A *program* is what differs between trainers (``azr.selfplay.trainer.SelfPlay``,
``azr.baselines.rlvr.RLVR``, ``azr.baselines.sft.SFT``): its step function, what it does
once the sandbox is up, what it keeps beside the model in a checkpoint, and what it restores
from one. Every random choice of step t is seeded from (seed, t) and the checkpoint holds
the RNG states, so a resumed run's metrics equal an uninterrupted run's on CPU (``time/*``
aside), for every program.

Data parallelism (``--nproc N``, or torchrun's ``RANK``/``WORLD_SIZE``): every rank runs this
loop with identical control state; generation and sandbox jobs are split across ranks
(``azr.distributed.sharded``), the update module is ``DDP(LogprobModule(model))`` and the
update's gradient is that of the global batch (``azr.rl.update``). Only rank 0 writes the run
directory. Without torchrun's variables nothing of this is used; the loop has no other path.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from azr.config import save_config, to_dict
from azr.rl import rundir

log = logging.getLogger("azr.train")


@dataclass
class Session:
    """What a program's step works with: the policy, its optimiser, the engines, the ranks."""

    cfg: Any  # azr.config.Config (or a subclass: azr.baselines.config.BaselineConfig)
    run_dir: Path
    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    engine: Any  # the policy's rollout engine (sharded across ranks under data parallelism)
    explorer: Any  # behaviour sampler of exploration mixing (the engine when mixing is off)
    module: Any  # what the update trains: the model, or DDP(LogprobModule(model))
    dp: Any  # azr.distributed.dist.DistInfo (rank 0 of 1 on a single process)
    start: int  # steps already done (from the checkpoint resumed)
    checkpoint: Path | None = None  # the checkpoint resumed from

    @property
    def resumed(self) -> bool:
        return self.checkpoint is not None

    @property
    def is_main(self) -> bool:
        return self.dp.is_main

    @property
    def pad_token_id(self) -> int:
        return self.tokenizer.pad_token_id


class Program(Protocol):
    """What a trainer adds to the loop (see the module doc)."""

    total_steps: int

    def prepare(self, s: Session, env) -> None:
        """Once the sandbox is up (``env``: ``azr.selfplay.env.CodeEnv``), before step 1 or the
        resumed step: build datasets, seed buffers, validation sets, ..."""

    def step(self, s: Session, env, step: int, progress) -> dict:
        """Run step ``step``; return its metrics (every rank returns the same metrics)."""

    def persist(self, s: Session, step: int) -> None:
        """Rank 0, after each step, before its metrics row: files kept outside checkpoints."""

    def state_files(self, s: Session, tmp: Path) -> dict[str, Path]:
        """Files saved in a checkpoint beside the model (``{relative name: file}``)."""

    def restore(self, s: Session, checkpoint: Path) -> None:
        """Reload the program's state from a checkpoint being resumed."""


def _barrier(dp) -> None:
    if dp.distributed:
        from azr.distributed.dist import barrier

        barrier()


def open_session(cfg, run_dir: Path, resume: bool, dp) -> Session:
    """Load the model (base, or the newest checkpoint with optimizer/scheduler/RNG on resume).

    ``dp`` (``DistInfo``): rank 0 resolves the model folder first (it may build the fallback
    tiny model); under data parallelism the engines are sharded and the update module is
    DDP-wrapped."""
    import torch

    from azr.distributed.sharded import ShardedEngine
    from azr.rl.checkpoint import latest_checkpoint, load_checkpoint
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rl.parallel import wrap_ddp
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_model, load_tokenizer
    from azr.selfplay.offpolicy import behaviour_engine

    ckpt = latest_checkpoint(run_dir / rundir.CHECKPOINTS) if resume else None
    if resume and ckpt is None:
        log.info("no checkpoint in %s yet: starting from step 0", run_dir / rundir.CHECKPOINTS)
    torch.manual_seed(cfg.run.seed)
    if cfg.run.torch_threads:
        torch.set_num_threads(cfg.run.torch_threads)
    if ckpt is not None:
        model_path = str(ckpt)
    else:
        model_path = rundir.resolve_model_path(cfg.model.path, run_dir, cfg.run.seed) if dp.is_main else ""
        _barrier(dp)  # the fallback tiny model is built once, by rank 0
        if not dp.is_main:
            model_path = rundir.resolve_model_path(cfg.model.path, run_dir, cfg.run.seed)
    model_cfg = replace(cfg.model, path=model_path)
    if dp.distributed and dp.device.type == "cuda":
        model_cfg = replace(model_cfg, device=str(dp.device))  # one GPU per local rank
    model = load_model(model_cfg)
    tokenizer = load_tokenizer(model_path, trust_remote_code=cfg.model.trust_remote_code)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim)
    start = 0
    if ckpt is not None:
        start = load_checkpoint(ckpt, optimizer=optimizer, scheduler=scheduler).step
        log.info("resumed from %s (step %d)", ckpt, start)
    log.info("model %s loaded (%.1fM parameters) on %s", model_path,
             sum(p.numel() for p in model.parameters()) / 1e6, next(model.parameters()).device)
    engine = HFEngine(model, tokenizer, cfg.rollout)
    explorer = behaviour_engine(cfg.model, cfg.rollout, cfg.controls, engine, tokenizer)
    module = model
    if dp.distributed:
        sharded = ShardedEngine(engine, dp)
        explorer = sharded if explorer is engine else ShardedEngine(explorer, dp)
        engine = sharded
        module = wrap_ddp(model, dp)
    return Session(cfg, run_dir, model, tokenizer, optimizer, scheduler, engine, explorer, module, dp, start, ckpt)


def save(s: Session, program: Program, step: int) -> None:
    """Checkpoint ``step`` (model, tokenizer, optimizer, scheduler, RNG, the program's files)."""
    from azr.rl.checkpoint import save_checkpoint

    with tempfile.TemporaryDirectory(dir=s.run_dir) as tmp:
        save_checkpoint(s.run_dir / rundir.CHECKPOINTS, step, s.model, s.tokenizer, optimizer=s.optimizer,
                        scheduler=s.scheduler, extra={"run_seed": s.cfg.run.seed},
                        extra_files=program.state_files(s, Path(tmp)), policy=s.cfg.checkpoint)


def run_loop(cfg, resume: bool, program: Program) -> Path:
    """Run ``program`` into ``cfg.run.run_dir`` (see the module doc); return the run directory.

    Raises ``FileExistsError`` when a fresh run would overwrite a run directory with checkpoints."""
    from azr.distributed.dist import destroy, init_distributed

    run_dir = Path(cfg.run.run_dir)
    if not resume and (run_dir / rundir.CHECKPOINTS / rundir.LATEST_FILE).exists():
        raise FileExistsError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                              "or choose another --run-dir")
    dp = init_distributed(device=cfg.model.device)  # a no-op without torchrun's environment
    try:
        if dp.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        _barrier(dp)
        handlers = rundir.setup_logging(run_dir, main=dp.is_main)
        try:
            return _run(cfg, resume, program, run_dir, dp)
        finally:
            rundir.remove_logging(handlers)
    finally:
        if dp.distributed:
            destroy()


def _run(cfg, resume: bool, program: Program, run_dir: Path, dp) -> Path:
    from azr.distributed.ray_sandbox import make_sandbox
    from azr.distributed.sharded import ShardedSandbox
    from azr.selfplay.env import CodeEnv
    from azr.selfplay.progress import Progress

    if dp.is_main:
        save_config(cfg, run_dir / rundir.CONFIG_FILE)
    s = open_session(cfg, run_dir, resume, dp)
    if s.checkpoint is not None:
        program.restore(s, s.checkpoint)
    writer = None
    if dp.is_main:
        rundir.truncate_metrics(run_dir / rundir.METRICS_FILE, s.start)
        writer = rundir.MetricsWriter(run_dir, cfg.run.sinks, cfg.run.wandb_project, to_dict(cfg))
    progress = Progress(program.total_steps, s.start, enabled=cfg.run.progress and dp.is_main)
    try:
        with make_sandbox(cfg.executor) as sandbox:
            if dp.distributed:
                sandbox = ShardedSandbox(sandbox, dp)
            env = CodeEnv(sandbox)
            log.info("sandbox ready: %d workers", cfg.executor.workers)
            program.prepare(s, env)
            last_save = 0.0
            for step in range(s.start + 1, program.total_steps + 1):
                metrics = program.step(s, env, step, progress)
                metrics["time/checkpoint"] = last_save  # the previous step's save, if any
                if dp.is_main:
                    program.persist(s, step)
                    writer.write(step, metrics)  # before the checkpoint: a resume never loses a row
                last_save = 0.0
                if (cfg.checkpoint.every and step % cfg.checkpoint.every == 0) or step == program.total_steps:
                    progress.phase(step, "checkpoint")
                    t = time.perf_counter()
                    if dp.is_main:
                        save(s, program, step)
                    _barrier(dp)  # no rank runs ahead of (or exits before) the checkpoint
                    last_save = time.perf_counter() - t
                progress.done(step, metrics)
    finally:
        if writer is not None:
            writer.close()
    return run_dir
