"""Metric sinks: one flat dict per step, JSONL always, TensorBoard / W&B when installed.

Keys are namespaced (docs/interfaces.md): ``solve/deduction/accuracy``,
``entropy/propose/abduction``, ``time/rollout``, ... Values are finite floats or ints; a
``None`` value (e.g. an accuracy with no samples) is written as JSON ``null``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

log = logging.getLogger(__name__)


def _clean(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    v = float(value)  # numpy / torch scalars
    return v if math.isfinite(v) else None


class JsonlSink:
    """Appends one JSON object per step to ``metrics.jsonl`` (flushed each line)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, step: int, metrics: dict) -> None:
        row = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        self._fh.write(json.dumps(row, sort_keys=True) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class TensorBoardSink:
    """Scalars to a TensorBoard event file under ``<run>/tensorboard``."""

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self._w = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, step: int, metrics: dict) -> None:
        for k, v in metrics.items():
            v = _clean(v)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self._w.add_scalar(k, v, step)
        self._w.flush()

    def close(self) -> None:
        self._w.close()


class WandbSink:
    """Logs to Weights & Biases (``wandb`` must be installed and configured)."""

    def __init__(self, run_dir: Path, project: str, config: dict):
        import wandb

        self._run = wandb.init(project=project, dir=str(run_dir), config=config, name=run_dir.name)

    def write(self, step: int, metrics: dict) -> None:
        self._run.log({k: _clean(v) for k, v in metrics.items()}, step=step)

    def close(self) -> None:
        self._run.finish()


def truncate_metrics(path: str | os.PathLike, last_step: int) -> None:
    """Drop rows with ``step > last_step`` (written after the checkpoint a resume starts from)
    and any torn last line."""
    path = Path(path)
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if isinstance(row, dict) and int(row.get("step", 10**9)) <= last_step:
            keep.append(line)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)


class MetricsWriter:
    """Fans one step's metrics out to the configured sinks; JSONL is always on."""

    def __init__(self, run_dir: str | os.PathLike, sinks: tuple[str, ...] = ("jsonl",),
                 wandb_project: str = "azr", config: dict | None = None):
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.sinks: list = [JsonlSink(run_dir / "metrics.jsonl")]
        for name in sinks:
            try:
                if name == "tensorboard":
                    self.sinks.append(TensorBoardSink(run_dir))
                elif name == "wandb":
                    self.sinks.append(WandbSink(run_dir, wandb_project, config or {}))
            except ImportError as e:
                log.warning("metric sink %r unavailable (%s); writing JSONL only", name, e)

    def write(self, step: int, metrics: dict) -> None:
        for s in self.sinks:
            s.write(step, metrics)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """All rows of a ``metrics.jsonl`` (skipping a torn last line)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
