"""Read a run directory for the analysis (torch-free); the layout, and which checkpoints are
complete, are defined once by ``azr.rl.rundir`` (shared with the trainers).

```
runs/<name>/config.yaml  metrics.jsonl  checkpoints/step_000010/  checkpoints/LATEST
             buffers/{deduction,abduction,induction}.jsonl  samples/step_000010.jsonl
```
Readers tolerate what a live or partial run leaves behind (a half-written last line, a
checkpoint folder without weights yet) and reject what is plainly not a run.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from azr.rl import rundir as layout
from azr.rl.rundir import has_weights  # noqa: F401 (part of this module's API)

TASKS: tuple[str, ...] = ("deduction", "abduction", "induction")
ROLES: tuple[str, ...] = ("propose", "solve")


class RunError(ValueError):
    """A path is not a readable run directory."""


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path


def check_run_dir(path: str | Path) -> Path:
    """The path of a run directory, or a clear error when it does not look like one."""
    p = Path(path)
    if not p.is_dir():
        raise RunError(f"{p}: no such run directory")
    if not any((p / n).exists() for n in ("metrics.jsonl", "config.yaml", "checkpoints", "buffers")):
        raise RunError(f"{p}: not a run directory (no metrics.jsonl, config.yaml, checkpoints/ or buffers/)")
    return p


def load_metrics(run: str | Path) -> list[dict]:
    """Rows of ``metrics.jsonl`` in file order; a malformed *last* line (a run still writing)
    is skipped, a malformed line elsewhere is an error. Missing file -> []."""
    path = Path(run) / layout.METRICS_FILE
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows: list[dict] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) - 1:
                break
            raise RunError(f"{path}:{i + 1}: malformed JSON ({e})") from e
        if not isinstance(row, dict):
            raise RunError(f"{path}:{i + 1}: expected a JSON object per line")
        rows.append(row)
    return rows


def series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric; rows without it, or with a non-finite value, are skipped.
    A step logged twice (a resumed run) keeps its last value."""
    by_step: dict[int, float] = {}
    for i, row in enumerate(rows):
        v = row.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        by_step[int(row.get("step", i))] = float(v)
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def metric_keys(rows: list[dict]) -> set[str]:
    return {k for row in rows for k in row}


def load_config(run: str | Path) -> dict:
    """The resolved ``config.yaml`` of a run ({} when absent)."""
    path = Path(run) / layout.CONFIG_FILE
    if not path.exists():
        return {}
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise RunError(f"{path}: malformed YAML ({e})") from e
    return cfg if isinstance(cfg, dict) else {}


def list_checkpoints(run: str | Path) -> list[Checkpoint]:
    """Complete checkpoints of a run sorted by step (``azr.rl.rundir.list_checkpoints``)."""
    return [Checkpoint(step, path) for step, path in layout.list_checkpoints(Path(run) / layout.CHECKPOINTS)]


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a half-written line of a live run
        if isinstance(row, dict):
            rows.append(row)
    return rows


def load_buffer_entries(run: str | Path, task: str) -> list[dict]:
    """Every buffer entry of one task type the run ever kept: the current buffer plus the
    buffer snapshots saved with each checkpoint (a bounded buffer drops old entries).
    Entries are de-duplicated by ``hash`` (content), keeping the earliest ``step``."""
    if task not in TASKS:
        raise ValueError(f"unknown task type {task!r} (one of {TASKS})")
    run = Path(run)
    files = [run / "buffers" / f"{task}.jsonl"]
    files += sorted((run / "checkpoints").glob(f"step_*/buffers/{task}.jsonl"))
    best: dict[str, dict] = {}
    for f in files:
        if not f.exists():
            continue
        for e in _read_jsonl(f):
            key = e.get("hash") or json.dumps(
                [e.get("program"), e.get("input"), e.get("output"), e.get("inputs")], sort_keys=True)
            step = e.get("step")
            if not isinstance(step, int):
                continue
            if key not in best or step < best[key]["step"]:
                best[key] = e
    return sorted(best.values(), key=lambda e: (e["step"], str(e.get("hash", ""))))


def _find_keys(cfg: object, pattern: re.Pattern, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out += _find_keys(v, pattern, path)
            elif pattern.search(path):
                out.append((path, v))
    return out


_PROPOSER_REWARD = re.compile(r"(propos\w*\.(\w+\.)?reward\w*|propos\w*_reward\w*|reward\w*\.propos\w*)$", re.I)
_FROZEN = re.compile(r"(frozen|freeze)\w*(propos\w*)?$", re.I)


def proposer_reward(config: dict) -> str | None:
    """Name of the proposer reward in a resolved config (``learnability``, ``eq3`` ...), found by
    key name (``reward.proposer`` as ``azr.selfplay.config.RewardConfig`` writes it,
    or ``selfplay.proposer_reward``-style keys); None when absent."""
    for _, v in _find_keys(config, _PROPOSER_REWARD):
        if isinstance(v, str):
            return v
    return None


_TRAIN_PROPOSE = re.compile(r"train_propos\w*$", re.I)


def frozen_proposer(config: dict) -> bool:
    """True for the frozen-proposer variant (``selfplay.train_propose: false``, or a
    ``frozen_proposer: true``-style key)."""
    if any(v is False for _, v in _find_keys(config, _TRAIN_PROPOSE)):
        return True
    return any(v is True for _, v in _find_keys(config, _FROZEN))


def run_label(run: str | Path, config: dict | None = None) -> str:
    """Short label of a run for legends: its folder name, plus the variant when the config says."""
    run = Path(run)
    name = run.resolve().name
    cfg = load_config(run) if config is None else config
    tags = []
    baseline = cfg.get("baseline") if isinstance(cfg, dict) else None
    if baseline in ("rlvr", "sft"):
        # Baseline runs have no proposer: their reward setting means nothing.
        return f"{name} ({baseline})"
    reward = proposer_reward(cfg)
    if reward:
        tags.append(f"reward={reward}")
    if frozen_proposer(cfg):
        tags.append("frozen proposer")
    return f"{name} ({', '.join(tags)})" if tags else name
