"""The run loop every trainer shares (self-play, RLVR, SFT): set-up, steps, checkpoints, resume.

``run_loop(cfg, resume, program)`` runs ``program.total_steps`` steps into ``cfg.run.run_dir``:

    preflight (sinks installed; a fresh run never replaces another run's checkpoints or rows)
    -> (torchrun's process group, if any) -> run directory, train.log
    -> open_session: model (base, or the newest checkpoint that loads, with optimizer,
       scheduler, RNG; unreadable newer ones are skipped and named), rollout engine,
       behaviour sampler, update module
    -> config.yaml and config_history/ (each start appends its resolved config and the keys
       changed since the previous start)
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
(``azr.distributed.sharded``), the update module is ``DDP(LogprobModule(model))`` (or, with
``distributed.strategy: fsdp``, the FSDP2-sharded model with its optimizer built over the shards:
``azr.rl.parallel.wrap_policy``; checkpoints gather the whole state to rank 0) and the
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

from azr.config import to_dict
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _load_policy(cfg, model_cfg, path: str):
    """Model, tokenizer, optimizer and scheduler of the folder ``path``."""
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rollout.models import load_model, load_tokenizer

    model = load_model(replace(model_cfg, path=path))
    tokenizer = load_tokenizer(path, trust_remote_code=cfg.model.trust_remote_code)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim)
    return model, tokenizer, optimizer, scheduler


def _resume_policy(cfg, model_cfg, ckpt_dir: Path):
    """The newest checkpoint of ``ckpt_dir`` that loads: ``(path, step, policy)`` or None when
    there is none. Each one that does not load is logged with its reason and skipped; when
    none loads, ``RunError`` lists them all."""
    from azr.rl.checkpoint import load_checkpoint

    skipped = []
    for _, path in reversed(rundir.list_checkpoints(ckpt_dir)):
        try:
            model, tokenizer, optimizer, scheduler = _load_policy(cfg, model_cfg, str(path))
            step = load_checkpoint(path, optimizer=optimizer, scheduler=scheduler).step
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is skipped, with its reason
            reason = _first_line(e)
            log.warning("skipping checkpoint %s: it does not load (%s)", path, reason)
            skipped.append(f"{path.name} ({reason})")
            continue
        if skipped:
            log.warning("resuming from %s instead of the newer, unreadable %s", path.name, ", ".join(skipped))
        return path, step, (model, tokenizer, optimizer, scheduler)
    if skipped:
        raise rundir.RunError(f"--resume: no checkpoint in {ckpt_dir} loads: {'; '.join(skipped)}")
    return None


def open_session(cfg, run_dir: Path, resume: bool, dp) -> Session:
    """Load the model (base, or the newest checkpoint that loads, with optimizer/scheduler/RNG,
    on resume).

    ``dp`` (``DistInfo``): rank 0 resolves the model folder first (it may build the fallback
    tiny model); under data parallelism the engines are sharded and the update module is
    DDP-wrapped. Raises ``RunError`` when the model or every checkpoint fails to load."""
    import torch

    from azr.distributed.sharded import ShardedEngine
    from azr.rl.parallel import wrap_policy
    from azr.rollout.hf import HFEngine
    from azr.selfplay.offpolicy import behaviour_engine

    torch.manual_seed(cfg.run.seed)
    if dp.distributed and cfg.distributed.strategy == "fsdp" and cfg.controls.explore_fraction > 0:
        raise rundir.RunError("distributed.strategy=fsdp does not support exploration mixing yet "
                              "(controls.explore_fraction > 0: off-policy log-probs are recomputed by the "
                              "unsharded model); use distributed.strategy=ddp")
    if cfg.run.torch_threads:
        torch.set_num_threads(cfg.run.torch_threads)
    model_cfg = cfg.model
    if dp.distributed and dp.device.type == "cuda":
        model_cfg = replace(model_cfg, device=str(dp.device))  # one GPU per local rank
    ckpt_dir = run_dir / rundir.CHECKPOINTS
    found = _resume_policy(cfg, model_cfg, ckpt_dir) if resume else None
    if resume and found is None:
        log.info("no checkpoint in %s yet: starting from step 0", ckpt_dir)
    start, ckpt = 0, None
    if found is not None:
        ckpt, start, (model, tokenizer, optimizer, scheduler) = found
        model_path = str(ckpt)
        log.info("resumed from %s (step %d)", ckpt, start)
    else:
        model_path = rundir.resolve_model_path(cfg.model.path, run_dir, cfg.run.seed) if dp.is_main else ""
        _barrier(dp)  # the fallback tiny model is built once, by rank 0
        if not dp.is_main:
            model_path = rundir.resolve_model_path(cfg.model.path, run_dir, cfg.run.seed)
        try:
            model, tokenizer, optimizer, scheduler = _load_policy(cfg, model_cfg, model_path)
        except (OSError, ValueError) as e:  # no such hub id, no hub, unreadable weights
            raise rundir.RunError(f"model.path {cfg.model.path}: the model does not load ({_first_line(e)})") from None
    log.info("model %s loaded (%.1fM parameters) on %s", model_path,
             sum(p.numel() for p in model.parameters()) / 1e6, next(model.parameters()).device)
    engine = HFEngine(model, tokenizer, cfg.rollout)
    explorer = behaviour_engine(cfg.model, cfg.rollout, cfg.controls, engine, tokenizer)
    module = model
    if dp.distributed:
        sharded = ShardedEngine(engine, dp)
        explorer = sharded if explorer is engine else ShardedEngine(explorer, dp)
        engine = sharded
        # ddp, or fsdp: sharded in place, optimizer and scheduler rebuilt over the shards
        module, optimizer, scheduler = wrap_policy(model, optimizer, scheduler, cfg.optim, cfg.distributed, dp)
    return Session(cfg, run_dir, model, tokenizer, optimizer, scheduler, engine, explorer, module, dp, start, ckpt)


def save(s: Session, program: Program, step: int, gathered=None) -> None:
    """Checkpoint ``step`` (model, tokenizer, optimizer, scheduler, RNG, the program's files).
    A full disk raises ``RunError`` and leaves no partial files (earlier checkpoints intact)."""
    from azr.rl.checkpoint import save_checkpoint

    try:
        with tempfile.TemporaryDirectory(dir=s.run_dir, prefix=".tmp-state-") as tmp:
            save_checkpoint(s.run_dir / rundir.CHECKPOINTS, step, s.model, s.tokenizer, optimizer=s.optimizer,
                            scheduler=s.scheduler, extra={"run_seed": s.cfg.run.seed},
                            extra_files=program.state_files(s, Path(tmp)), policy=s.cfg.checkpoint,
                            model_state=gathered[0] if gathered else None,
                            optimizer_state=gathered[1] if gathered else None)
    except OSError as e:
        if rundir.is_disk_full(e):
            raise rundir.disk_full_error(s.run_dir / rundir.CHECKPOINTS / f"step_{step:06d}", "checkpoint") from None
        raise


def preflight(cfg, resume: bool, run_dir: Path) -> None:
    """Refuse, before anything is created, a run that cannot start: a requested metric sink
    that is not installed, a fresh run into a directory holding checkpoints (``FileExistsError``)
    or metric rows without a checkpoint (unless ``run.overwrite``)."""
    rundir.check_sinks(cfg.run.sinks)
    if resume:
        return
    if (run_dir / rundir.CHECKPOINTS / rundir.LATEST_FILE).exists() or rundir.list_checkpoints(run_dir / rundir.CHECKPOINTS):
        raise FileExistsError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                              "or choose another --run-dir")
    rows = rundir.metrics_rows(run_dir / rundir.METRICS_FILE)
    if rows and not cfg.run.overwrite:
        raise rundir.RunError(f"{run_dir} holds {rows} metric rows but no checkpoint; a fresh run would replace "
                              f"them: choose another --run-dir, or pass --set run.overwrite=true")


def run_loop(cfg, resume: bool, program: Program) -> Path:
    """Run ``program`` into ``cfg.run.run_dir`` (see the module doc); return the run directory.

    Raises ``FileExistsError`` when a fresh run would overwrite a run directory with
    checkpoints, ``RunError`` for the anticipated failures (``preflight``, a model or
    checkpoint that does not load, a full disk). A directory this call created is removed
    again when such a failure comes before the first step's row."""
    import shutil

    from azr.distributed.dist import destroy, init_distributed

    run_dir = Path(cfg.run.run_dir)
    preflight(cfg, resume, run_dir)
    created = not run_dir.exists()
    # a no-op without torchrun's environment; CPU-offloaded FSDP shards need gloo beside nccl
    dp = init_distributed(device=cfg.model.device, cpu_collectives=cfg.distributed.cpu_offload)
    try:
        if dp.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        _barrier(dp)
        handlers = rundir.setup_logging(run_dir, main=dp.is_main)
        try:
            return _run(cfg, resume, program, run_dir, dp)
        except rundir.RunError as e:
            log.error("%s", e, extra={"file_only": True})  # the command prints it once, on stderr
            rundir.remove_logging(handlers)
            handlers = []
            if created and dp.is_main and not rundir.metrics_rows(run_dir / rundir.METRICS_FILE):
                shutil.rmtree(run_dir, ignore_errors=True)  # nothing of value was made: no half run left
            raise
        finally:
            rundir.remove_logging(handlers)
    finally:
        if dp.distributed:
            destroy()


def _run(cfg, resume: bool, program: Program, run_dir: Path, dp) -> Path:
    from azr.distributed.ray_sandbox import make_sandbox
    from azr.distributed.sharded import ShardedSandbox
    from azr.rl.parallel import gathered_state
    from azr.selfplay.env import CodeEnv
    from azr.selfplay.progress import Progress

    s = open_session(cfg, run_dir, resume, dp)
    if dp.is_main:
        changes = rundir.record_config(run_dir, to_dict(cfg), s.start, resumed=resume)
        if changes:
            log.info("settings changed since the previous start (recorded in %s/): %s", rundir.HISTORY_DIR,
                     ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changes.items()))
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
                    try:
                        program.persist(s, step)
                    except OSError as e:
                        if rundir.is_disk_full(e):
                            raise rundir.disk_full_error(run_dir, f"the files of step {step} in") from None
                        raise
                    writer.write(step, metrics)  # before the checkpoint: a resume never loses a row
                last_save = 0.0
                if (cfg.checkpoint.every and step % cfg.checkpoint.every == 0) or step == program.total_steps:
                    progress.phase(step, "checkpoint")
                    t = time.perf_counter()
                    gathered = gathered_state(s.model, s.optimizer, keep=dp.is_main)  # fsdp: every rank
                    if dp.is_main:
                        save(s, program, step, gathered)
                    _barrier(dp)  # no rank runs ahead of (or exits before) the checkpoint
                    last_save = time.perf_counter() - t
                progress.done(step, metrics)
    finally:
        if writer is not None:
            writer.close()
    return run_dir
