"""What the RLVR and SFT trainers share: the dataset of a run and the batch order.

Both run in the shared run loop (``azr.selfplay.loop``: run directory, resume, checkpoints,
data parallelism) and add ``dataset.jsonl``: the exact problems trained on (buffer-entry format).
"""

from __future__ import annotations

import logging
from pathlib import Path

from azr.baselines.config import BaselineConfig
from azr.baselines.dataset import Problem, load_dataset, write_dataset
from azr.selfplay.seeds import rng_for

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


def save_dataset(run_dir: Path, problems: list[Problem]) -> None:
    """The problems of the run, as ``dataset.jsonl`` (reusable with ``--dataset``)."""
    write_dataset(problems, run_dir / "dataset.jsonl")


class BaselineProgram:
    """What the RLVR and SFT programs of the run loop (``azr.selfplay.loop``) share: the
    problems (from files, or generator-made once the sandbox is up, written to
    ``dataset.jsonl``); no state beside the model (batches are a pure function of the step)."""

    def __init__(self, cfg: BaselineConfig, problems: list[Problem] | None, total_steps: int):
        self.cfg = cfg
        self.problems = problems
        self.total_steps = total_steps

    def prepare(self, s, env) -> None:
        self.problems = self.problems or generate_problems(self.cfg, env.sandbox)
        if s.is_main:
            save_dataset(s.run_dir, self.problems)
        log.info("%s on %d problems (%s)", self.cfg.baseline.upper(), len(self.problems),
                 ", ".join(self.cfg.rlvr.dataset) or "generator-made")

    def restore(self, s, checkpoint: Path) -> None:
        pass

    def persist(self, s, step: int) -> None:
        pass

    def state_files(self, s, tmp: Path) -> dict[str, Path]:
        return {}
