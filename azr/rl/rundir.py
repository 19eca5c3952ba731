"""The run directory: its layout, and every reader and writer of it except the checkpoint
contents (``azr.rl.checkpoint``) and the buffers (``azr.selfplay.buffer``). Torch-free.

```
runs/<name>/config.yaml    the resolved config (written by the trainer, read by --resume)
            metrics.jsonl  one JSON row per step (``MetricsWriter``; ``truncate_metrics`` on resume)
            train.log      the ``azr.*`` log (``setup_logging``; rank 0)
            samples/step_000010.jsonl   sample records of a step (``write_samples``)
            buffers/{deduction,abduction,induction}.jsonl
            checkpoints/step_000010/    HF folder + trainer_state.pt (+ buffers/)
            checkpoints/LATEST          name of the newest complete checkpoint
            base_model/    the random-initialised tiny model (``resolve_model_path``), if built
            dataset.jsonl  the problems of an RLVR / SFT run
```

Every trainer (self-play, RLVR, SFT) writes through this module and the analysis reads
through it, so there is one answer to "which checkpoints are complete" (``list_checkpoints``:
``step_*`` folders holding model weights; a checkpoint is written into a temporary folder and
renamed into place, so a folder with weights is whole) and one metrics format.

Metric keys are namespaced (docs/interfaces.md): ``solve/deduction/accuracy``,
``entropy/propose/abduction``, ``time/rollout``, ... Values are finite floats or ints; a
``None`` value (e.g. an accuracy with no samples) is written as JSON ``null``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "train.log"
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.pt"
LATEST_FILE = "LATEST"
STEP_RE = re.compile(r"^step_(\d+)$")
#: Weight files of an HF folder: one file, or shards listed by an index.
WEIGHTS_SINGLE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
#: The bundled tiny model's folder (relative to the working directory or the repository).
BUNDLED_TINY = "models/azr-tiny"

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


def has_weights(folder: str | os.PathLike) -> bool:
    """Does ``folder`` hold model weights (``model.safetensors``, an index, or shards)?"""
    folder = Path(folder)
    return (folder / WEIGHTS_SINGLE).exists() or (folder / WEIGHTS_INDEX).exists() \
        or any(folder.glob("*.safetensors"))


def list_checkpoints(ckpt_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoint folders ``[(step, path)]`` of ``<run>/checkpoints``, sorted by step:
    ``step_<n>`` folders with weights (temporary ``.tmp-*`` folders and empty ones are not)."""
    root = Path(ckpt_dir)
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        m = STEP_RE.match(p.name)
        if m and p.is_dir() and has_weights(p):
            out.append((int(m.group(1)), p))
    return sorted(out)


def setup_logging(run_dir: Path, main: bool = True) -> list[logging.Handler]:
    """Log ``azr.*`` to ``<run>/train.log`` (rank 0 only) and stderr; return the handlers added."""
    root = logging.getLogger("azr")
    added: list[logging.Handler] = []
    if main:
        fh = logging.FileHandler(Path(run_dir) / LOG_FILE)
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


def remove_logging(handlers: list[logging.Handler]) -> None:
    """Detach and close what ``setup_logging`` added."""
    for h in handlers:
        logging.getLogger("azr").removeHandler(h)
        h.close()


def write_samples(run_dir: Path, step: int, records: list[dict]) -> None:
    """Write one step's sample records to ``<run>/samples/step_<step>.jsonl`` (one JSON per line)."""
    d = Path(run_dir) / "samples"
    d.mkdir(exist_ok=True)
    with open(d / f"step_{step:06d}.jsonl", "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def resolve_model_path(path: str, run_dir: Path, seed: int = 0) -> str:
    """The model folder to load for ``model.path``: a folder (relative to the working
    directory or the repository), else a hub id. The bundled tiny model falls back to a
    random-initialised tiny model (built once in ``<run>/base_model``) while ``models/azr-tiny``
    is absent."""
    if not path:
        raise ValueError("model.path is empty: give a model folder (or hub id), e.g. --set model.path=...")
    candidates = [Path(path), Path(__file__).resolve().parents[2] / path]
    for c in candidates:
        if (c / "config.json").is_file():
            return str(c.resolve())
    if path.rstrip("/") == BUNDLED_TINY:
        fallback = Path(run_dir) / "base_model"
        if not (fallback / "config.json").is_file():
            log.warning("%s is absent: using a RANDOM-INITIALISED tiny model (built in %s); it will "
                        "not write valid programs, so rewards stay near their floor", BUNDLED_TINY, fallback)
            import shutil

            from azr.rollout.tiny import build_tiny_model

            tmp = Path(run_dir) / ".base_model.tmp"  # built aside, then renamed: a kill leaves no half model
            shutil.rmtree(tmp, ignore_errors=True)
            build_tiny_model(tmp, seed=seed)
            tmp.rename(fallback)
        else:
            log.warning("%s is absent: using the random-initialised tiny model in %s", BUNDLED_TINY, fallback)
        return str(fallback)
    return path  # a hub id, where a hub is reachable
