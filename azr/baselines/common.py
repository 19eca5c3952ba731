"""What the RLVR and SFT trainers share: the dataset of a run, batch order, set-up, checkpoints.

Both write the run directory of docs/interfaces.md with the self-play trainer's own pieces
(``resolve_model_path``, ``MetricsWriter``, ``Progress``, ``azr.rl.checkpoint``), plus
``dataset.jsonl``: the exact problems trained on (buffer-entry format).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from azr.baselines.config import BaselineConfig
from azr.baselines.dataset import Problem, load_dataset, write_dataset
from azr.selfplay.records import rng_for

log = logging.getLogger("azr.baselines")


def preload_problems(cfg: BaselineConfig, resume: bool) -> list[Problem] | None:
    """The problems of a run when they come from files: the run's own ``dataset.jsonl`` on
    resume, else the ``rlvr.dataset`` files (benchmark refusal unless ``rlvr.force_dataset``).
    None when a generator-made dataset is needed. Called before anything is written."""
    saved = Path(cfg.run.run_dir) / "dataset.jsonl"
    if resume and saved.is_file():
        return load_dataset(saved, force=True)
    r = cfg.rlvr
    if r.dataset:
        return load_dataset(list(r.dataset), task_types=r.task_types, force=r.force_dataset,
                            data_dir=cfg.run.data_dir or None)
    return None


def generate_problems(cfg: BaselineConfig, sandbox) -> list[Problem]:
    """The generator-made dataset of a run (``rlvr.generated_size`` problems, seeded by
    ``run.seed``), outputs computed in ``sandbox``."""
    from azr.baselines.generated import generated_problems

    r = cfg.rlvr

    problems = [p for p in generated_problems(r.generated_size, cfg.run.seed, sandbox=sandbox)
                if p.task_type.value in r.task_types]
    if not problems:
        raise RuntimeError("the generator-made dataset came out empty (is the sandbox working?)")
    return problems


def batch_indices(n_problems: int, per_step: int, step: int, seed: int) -> list[int]:
    """Problem indices of ``step`` (1-based): consecutive slices of per-epoch permutations
    (each epoch's order seeded by (seed, epoch)); a pure function of its arguments, so a
    resumed run draws the same batches."""
    if n_problems < 1 or per_step < 1 or step < 1:
        raise ValueError(f"need n_problems, per_step, step >= 1, got {n_problems}, {per_step}, {step}")
    out: list[int] = []
    orders: dict[int, list[int]] = {}
    for pos in range((step - 1) * per_step, step * per_step):
        epoch, k = divmod(pos, n_problems)
        if epoch not in orders:
            order = list(range(n_problems))
            rng_for(seed, epoch, "baseline/order").shuffle(order)
            orders[epoch] = order
        out.append(orders[epoch][k])
    return out


@dataclass
class Session:
    """A loaded run: model, tokenizer, optimiser, scheduler and the step to continue from."""

    run_dir: Path
    model: object
    tokenizer: object
    optimizer: object
    scheduler: object
    start: int


def open_session(cfg: BaselineConfig, resume: bool = False) -> Session:
    """Create/continue the run directory: config.yaml, model (base or newest checkpoint),
    optimiser and scheduler (restored on resume); metrics rows after the checkpoint dropped."""
    import torch

    from azr.config import save_config
    from azr.rl.checkpoint import latest_checkpoint, load_checkpoint
    from azr.rl.optim import build_optimizer, build_scheduler
    from azr.rollout.models import load_model, load_tokenizer
    from azr.selfplay.metrics import truncate_metrics
    from azr.selfplay.trainer import resolve_model_path, setup_logging

    run_dir = Path(cfg.run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(run_dir)
    ckpt = latest_checkpoint(run_dir / "checkpoints") if resume else None
    save_config(cfg, run_dir / "config.yaml")
    torch.manual_seed(cfg.run.seed)
    path = str(ckpt) if ckpt is not None else resolve_model_path(cfg, run_dir)
    model = load_model(replace(cfg.model, path=path))
    tokenizer = load_tokenizer(path, trust_remote_code=cfg.model.trust_remote_code)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim)
    start = 0
    if ckpt is not None:
        start = load_checkpoint(ckpt, optimizer=optimizer, scheduler=scheduler).step
        log.info("resumed from %s (step %d)", ckpt, start)
    truncate_metrics(run_dir / "metrics.jsonl", start)
    return Session(run_dir, model, tokenizer, optimizer, scheduler, start)


def save_dataset(run_dir: Path, problems: list[Problem]) -> None:
    """The problems of the run, as ``dataset.jsonl`` (reusable with ``--dataset``)."""
    write_dataset(problems, run_dir / "dataset.jsonl")


def maybe_checkpoint(cfg: BaselineConfig, s: Session, step: int, last_step: int) -> float:
    """Checkpoint at ``checkpoint.every`` and at the last step; returns the seconds it took."""
    import time

    from azr.rl.checkpoint import save_checkpoint

    every = cfg.checkpoint.every
    if not ((every and step % every == 0) or step == last_step):
        return 0.0
    t0 = time.perf_counter()
    save_checkpoint(s.run_dir / "checkpoints", step, s.model, s.tokenizer, optimizer=s.optimizer,
                    scheduler=s.scheduler, extra={"run_seed": cfg.run.seed}, policy=cfg.checkpoint)
    return time.perf_counter() - t0
