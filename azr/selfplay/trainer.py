"""Self-play training: the self-play program of the shared run loop (``azr.selfplay.loop``).

``train(cfg, resume=False)`` runs ``cfg.selfplay.steps`` steps into ``cfg.run.run_dir``; each step:

    collect (azr.selfplay.step) -> policy_update (azr.selfplay.update) -> metrics, samples,
    validation every ``selfplay.val_every`` steps (azr.selfplay.validation)

Beside the model, a checkpoint holds the task buffers (restored on resume; also written to
``<run>/buffers`` after every step). Before step 1 the buffers get the zero triplet, and base-
model proposals when ``selfplay.seed_buffer_size`` is set (``azr.selfplay.bootstrap``).
Set-up, resume, checkpoints and data parallelism are the loop's (``azr.selfplay.loop``).

The sandbox is a separate small process pool started once; it evaluates every piece of
model output (this process never does). Its failures become rewards, never exceptions.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from azr.config import Config
from azr.rl.rundir import write_samples
from azr.selfplay.buffer import Buffers
from azr.selfplay.loop import Session, run_loop
from azr.selfplay.metrics import buffer_metrics, group_metrics, samples_record
from azr.selfplay.progress import Progress

log = logging.getLogger("azr.train")


class SelfPlay:
    """The self-play program (``azr.selfplay.loop.Program``): buffers, validation sets, the step."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.total_steps = cfg.selfplay.steps
        self.buffers = Buffers(cfg.selfplay.buffer_cap, cfg.selfplay.cap_policy, cfg.run.seed)
        self.val_sets: list = []

    def restore(self, s: Session, checkpoint: Path) -> None:
        self.buffers.load(checkpoint / "buffers")

    def prepare(self, s: Session, env) -> None:
        from azr.selfplay.validation import build_heldout_sets

        cfg = self.cfg
        if not s.resumed:
            self.buffers.seed_zero()
            if cfg.selfplay.seed_buffer_size:
                from azr.selfplay.bootstrap import seed_buffers

                seed_buffers(cfg, s.engine, env, self.buffers)
        if cfg.selfplay.val_every:
            self.val_sets = build_heldout_sets(cfg.selfplay.val_sets, cfg.selfplay.val_size, cfg.run.data_dir,
                                               cfg.run.seed, env)
            log.info("validation sets: %s", {v.name: len(v.tasks) for v in self.val_sets})

    def step(self, s: Session, env, step: int, progress: Progress) -> dict:
        """One self-play step: experience, update, validation when due; the step's metrics."""
        from azr.selfplay.step import collect
        from azr.selfplay.update import policy_update
        from azr.selfplay.validation import heldout_accuracy

        cfg = self.cfg
        t0 = time.perf_counter()
        progress.phase(step, "rollout")
        exp = collect(cfg, s.engine, env, self.buffers, step, s.explorer)
        progress.phase(step, "update")
        t1 = time.perf_counter()
        metrics = policy_update(s.module, s.optimizer, s.scheduler, exp.rollouts, cfg, s.pad_token_id, info=s.dp)
        timings = {**exp.timings, "update": time.perf_counter() - t1}
        metrics.update(group_metrics(exp.rollouts))
        metrics.update(exp.metrics)
        metrics.update(buffer_metrics(self.buffers, step))
        if self.val_sets and step % cfg.selfplay.val_every == 0:
            progress.phase(step, "validate")
            t2 = time.perf_counter()
            metrics.update(heldout_accuracy(s.engine, env, self.val_sets, cfg.rollout, cfg.selfplay.template_set,
                                            cfg.selfplay.answer_format))
            timings["validate"] = time.perf_counter() - t2
        gen_time = sum(timings.get(k, 0.0) for k in ("propose", "solve_rate", "solve"))
        metrics["tokens_per_s"] = exp.generated_tokens / gen_time if gen_time > 0 else 0.0
        metrics["tokens/generated"] = exp.generated_tokens
        if cfg.selfplay.samples_per_group and s.is_main:
            write_samples(s.run_dir, step, samples_record(exp.rollouts, cfg.selfplay.samples_per_group))
        timings["step"] = time.perf_counter() - t0
        metrics.update({f"time/{k}": v for k, v in timings.items()})
        return metrics

    def persist(self, s: Session, step: int) -> None:
        self.buffers.save(s.run_dir / "buffers")

    def state_files(self, s: Session, tmp: Path) -> dict[str, Path]:
        self.buffers.save(tmp)
        return {f"buffers/{p.name}": p for p in sorted(tmp.iterdir())}


def train(cfg: Config, resume: bool = False) -> Path:
    """Run self-play training; return the run directory."""
    return run_loop(cfg, resume, SelfPlay(cfg))
