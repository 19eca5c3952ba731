"""The run directory: its layout, and every reader and writer of it except the checkpoint
contents (``azr.rl.checkpoint``) and the buffers (``azr.selfplay.buffer``). Torch-free.

```
runs/<name>/config.yaml    the resolved config of the latest start (read by --resume)
            config_history/000_step000000.yaml  the resolved config of each start/resume, with
                           the step it started from and the keys changed since the previous one
            metrics.jsonl  one JSON row per step (``MetricsWriter``; ``truncate_metrics`` on resume)
            train.log      the ``azr.*`` log (``setup_logging``; rank 0)
            samples/step_000010.jsonl   sample records of a step (``write_samples``)
            buffers/{deduction,abduction,induction}.jsonl
            checkpoints/step_000010/    HF folder + trainer_state.pt (+ buffers/)
            checkpoints/LATEST          name of the newest complete checkpoint
            base_model/    the random-initialised tiny model (``resolve_model_path``), if built
            dataset.jsonl  the problems of an RLVR / SFT run
            wandb_id       the W&B run id (a resume continues the same W&B run)
```

Anticipated failures of a run (disk full, no loadable checkpoint, a missing model or sink, a
run directory that would be overwritten) raise ``RunError``: one line for the user, exit 2
(``azr.cli``), and the run directory left as it was.

Every trainer (self-play, RLVR, SFT) writes through this module and the analysis reads
through it, so there is one answer to "which checkpoints are complete" (``list_checkpoints``:
``step_*`` folders holding model weights; a checkpoint is written into a temporary folder and
renamed into place, so a folder with weights is whole) and one metrics format.

Metric keys are namespaced (docs/interfaces.md): ``solve/deduction/accuracy``,
``entropy/propose/abduction``, ``time/rollout``, ... Values are finite floats or ints; a
``None`` value (e.g. an accuracy with no samples) is written as JSON ``null``.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
import shutil
from pathlib import Path

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "train.log"
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.pt"
LATEST_FILE = "LATEST"
HISTORY_DIR = "config_history"
WANDB_ID_FILE = "wandb_id"
STEP_RE = re.compile(r"^step_(\d+)$")
#: Weight files of an HF folder: one file, or shards listed by an index.
WEIGHTS_SINGLE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
#: The bundled tiny model's folder (relative to the working directory or the repository).
BUNDLED_TINY = "models/azr-tiny"

log = logging.getLogger(__name__)


class RunError(RuntimeError):
    """An anticipated failure of a run or command, told to the user in one line (exit 2)."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def free_space(path: str | os.PathLike) -> str:
    """Free space of the file system holding ``path`` (or its nearest existing parent), e.g. "12.0 MiB"."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        free = shutil.disk_usage(p).free
    except OSError:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if free < 1024 or unit == "GiB":
            return f"{free:.0f} B" if unit == "B" else f"{free:.1f} {unit}"
        free /= 1024
    return "unknown"  # unreachable


#: How writers other than Python's own report a full disk: torch's serializer (a short write),
#: safetensors' Rust writer (``IoError(Os { code: 28, kind: StorageFull, ... })``).
_DISK_FULL_TEXTS = ("No space left on device", "StorageFull", "Disk quota exceeded", "unexpected pos",
                    "PytorchStreamWriter failed writing")


def is_disk_full(exc: BaseException) -> bool:
    """Is ``exc`` a write that failed for lack of space (``OSError`` ENOSPC/EDQUOT, or a library's
    writer saying so in its own words)?"""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    if not isinstance(exc, Exception) or isinstance(exc, OSError):
        return False
    text = str(exc)
    return any(t in text for t in _DISK_FULL_TEXTS)


def disk_full_error(path: str | os.PathLike, what: str = "") -> RunError:
    """The one-line error of a write to ``path`` that ran out of space."""
    return RunError(f"disk full while writing {what + ' ' if what else ''}{path} ({free_space(path)} free there); "
                    "free some space, then continue with --resume")


def _clean(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    v = float(value)  # numpy / torch scalars
    return v if math.isfinite(v) else None


class JsonlSink:
    """Appends one JSON object per step to ``metrics.jsonl`` (flushed each line; a row that
    does not fit on the disk is removed again and raises ``RunError``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, step: int, metrics: dict) -> None:
        row = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        start = self._fh.tell()
        try:
            self._fh.write(json.dumps(row, sort_keys=True) + "\n")
            self._fh.flush()
        except OSError as e:
            if not is_disk_full(e):
                raise
            try:  # drop the partial row so the file stays whole
                self._fh.truncate(start)
            except OSError:
                pass
            raise disk_full_error(self.path, f"the metrics row of step {step} to") from None

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
    """Logs to Weights & Biases (``wandb`` must be installed and configured). The run id is
    kept in ``<run>/wandb_id``, so a resumed run continues the same W&B run."""

    def __init__(self, run_dir: Path, project: str, config: dict):
        import wandb

        id_file = Path(run_dir) / WANDB_ID_FILE
        run_id = id_file.read_text(encoding="utf-8").strip() if id_file.is_file() else ""
        if not run_id:
            run_id = wandb.util.generate_id()
            id_file.write_text(run_id + "\n", encoding="utf-8")
        self._run = wandb.init(project=project, dir=str(run_dir), config=config, name=Path(run_dir).name,
                               id=run_id, resume="allow")

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
        check_sinks(sinks)
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.sinks: list = [JsonlSink(run_dir / "metrics.jsonl")]
        for name in sinks:
            if name == "tensorboard":
                self.sinks.append(TensorBoardSink(run_dir))
            elif name == "wandb":
                self.sinks.append(WandbSink(run_dir, wandb_project, config or {}))

    def write(self, step: int, metrics: dict) -> None:
        for s in self.sinks:
            s.write(step, metrics)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


#: Sink name -> the module it needs.
SINK_MODULES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def check_sinks(sinks: tuple[str, ...] | list[str]) -> None:
    """Raise ``RunError`` when a requested sink's package is not installed (before anything is written)."""
    import importlib.util

    for name in sinks:
        module = SINK_MODULES.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            raise RunError(f"run.sinks: the {name!r} sink needs the {module!r} package, which is not installed "
                           f"(pip install {module}, or drop it from run.sinks)")


def metrics_rows(path: str | os.PathLike) -> int:
    """Number of rows in a ``metrics.jsonl`` (0 when it is absent)."""
    path = Path(path)
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def _flat(data: object, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def changed_keys(old: dict, new: dict) -> dict[str, list]:
    """``{dotted key: [old value, new value]}`` of the settings that differ between two config mappings."""
    a, b = _flat(old), _flat(new)
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def record_config(run_dir: str | os.PathLike, config: dict, step: int, resumed: bool) -> dict[str, list]:
    """Append the resolved ``config`` of a start (``resumed``: a resume from ``step``) to
    ``<run>/config_history/`` (never rewriting an earlier entry) and make it ``config.yaml``.
    Return the keys changed since the previous start (``{}`` for the first)."""
    import time

    import yaml

    run_dir = Path(run_dir)
    hist = run_dir / HISTORY_DIR
    hist.mkdir(parents=True, exist_ok=True)
    entries = sorted(hist.glob("[0-9][0-9][0-9]_step*.yaml"))
    previous = None
    if entries:
        previous = (yaml.safe_load(entries[-1].read_text(encoding="utf-8")) or {}).get("config")
    elif (run_dir / CONFIG_FILE).is_file():  # a run from before the history existed
        previous = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    changes = changed_keys(previous, config) if isinstance(previous, dict) else {}
    entry = {"index": len(entries), "step": step, "resumed": resumed,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "changed": changes, "config": config}
    target = hist / f"{len(entries):03d}_step{step:06d}.yaml"
    _atomic_write(target, yaml.safe_dump(entry, sort_keys=False))
    _atomic_write(run_dir / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))
    return changes


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise disk_full_error(path) from None
        raise


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
    """Log ``azr.*`` to ``<run>/train.log`` (rank 0 only) and stderr (except the per-step lines of
    ``azr.progress``, which the progress display prints, and records logged with
    ``extra={"file_only": True}``); return the handlers added."""
    root = logging.getLogger("azr")
    added: list[logging.Handler] = []
    if main:
        fh = logging.FileHandler(Path(run_dir) / LOG_FILE)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        added.append(fh)
    if not any(type(h) is logging.StreamHandler for h in root.handlers):
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        # the progress display prints the step lines; the command prints a failure's one line itself
        sh.addFilter(lambda record: record.name != "azr.progress" and not getattr(record, "file_only", False))
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


#: Benchmark data: ``--data-dir`` / ``run.data_dir`` > ``$AZR_DATA_DIR`` > this folder (``data_dir``).
DATA_DIR_ENV = "AZR_DATA_DIR"
DEFAULT_DATA_DIR = Path.home() / ".cache" / "azr" / "data"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The benchmark data directory, one rule for every command (train's held-out sets, eval,
    the baselines' benchmark guard): ``explicit`` > ``$AZR_DATA_DIR`` > ``~/.cache/azr/data``.
    The config checker refuses an explicit ``run.data_dir`` that does not exist."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


REPO_ROOT = Path(__file__).resolve().parents[2]
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def find_model_folder(path: str) -> Path | None:
    """The local model folder (one holding ``config.json``) that ``path`` names, relative to the
    working directory or else to the repository (so ``models/azr-tiny`` is found from anywhere)."""
    if not path:
        return None
    p = Path(path).expanduser()
    for c in ([p] if p.is_absolute() else [p, REPO_ROOT / p]):
        if (c / "config.json").is_file():
            return c.resolve()
    return None


def model_path_problem(path: str, key: str = "model.path") -> str | None:
    """Why ``path`` cannot be a model (one line naming ``key``), or None when it can: a folder
    with ``config.json``, the bundled tiny model's name (built when absent), or a hub id
    (``owner/name``, not an existing local path)."""
    if not path:
        return f"{key} is empty: give a model folder (or a hub id), e.g. --set {key}=models/azr-tiny"
    if find_model_folder(path) is not None or path.rstrip("/") == BUNDLED_TINY:
        return None
    p = Path(path).expanduser()
    local = [c for c in ([p] if p.is_absolute() else [p, REPO_ROOT / p]) if c.exists()]
    if local:
        return f"{key}: {local[0]} has no config.json (not a model folder saved with save_pretrained)"
    if _HUB_ID.match(path) and not path.startswith((".", "~")):
        return None  # a hub id; loading it needs the hub (or its cache)
    where = "" if p.is_absolute() else f" (looked in {Path.cwd()} and {REPO_ROOT})"
    return f"{key}: no model folder {path}{where}"


def resolve_model_path(path: str, run_dir: Path | None = None, seed: int = 0) -> str:
    """The model folder to load for ``model.path`` (used by train, eval, report and analyze):
    a folder (relative to the working directory or the repository), else a hub id. The
    bundled tiny model falls back to a random-initialised tiny model (built once in
    ``<run>/base_model``; without ``run_dir``, an error) while ``models/azr-tiny`` is absent.
    Raises ``RunError`` for a path that names no model."""
    problem = model_path_problem(path)
    if problem is not None:
        raise RunError(problem)
    found = find_model_folder(path)
    if found is not None:
        return str(found)
    if path.rstrip("/") == BUNDLED_TINY:
        if run_dir is None:
            raise RunError(f"{BUNDLED_TINY} is absent: build it with `azr pretrain` (or pass a model folder)")
        fallback = Path(run_dir) / "base_model"
        if not (fallback / "config.json").is_file():
            log.warning("%s is absent: using a RANDOM-INITIALISED tiny model (built in %s); it will "
                        "not write valid programs, so rewards stay near their floor", BUNDLED_TINY, fallback)
            from azr.rollout.tiny import build_tiny_model

            tmp = Path(run_dir) / ".base_model.tmp"  # built aside, then renamed: a kill leaves no half model
            shutil.rmtree(tmp, ignore_errors=True)
            build_tiny_model(tmp, seed=seed)
            tmp.rename(fallback)
        else:
            log.warning("%s is absent: using the random-initialised tiny model in %s", BUNDLED_TINY, fallback)
        return str(fallback)
    return path  # a hub id, where a hub is reachable
