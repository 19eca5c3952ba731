"""Task buffers: one per task type, step-tagged, de-duplicated by content hash, persisted.

Each entry is a valid task (a ``Triplet`` for deduction/abduction, an ``InductionTask`` for
induction) tagged with the step that produced it (-1 for the seed) and, optionally, the
solve rate estimated when it was proposed. Entries are unique by content hash; adding a
task already present is a no-op.

Cap policy (``cap > 0``): a full buffer **always keeps accepting new programs** (the
reference code stopped accepting them, freezing the task distribution):

- ``"newest"``: the oldest entry is dropped; the buffer holds the ``cap`` most recent tasks.
- ``"reservoir"``: reservoir sampling (Algorithm R) over every task ever accepted: the n-th
  accepted task replaces a uniformly chosen slot with probability cap/n, so the buffer is a
  uniform sample of the whole history. The choice is a pure function of (seed, n), so it
  is reproducible and resumable from the persisted ``n_seen``.

Persistence: ``<type>.jsonl`` (one entry per line, keys of docs/interfaces.md) plus
``state.json`` (``n_seen`` per type). Sampling takes an explicit ``random.Random``.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from azr.tasks.types import TASK_TYPES, ZERO_TRIPLET, InductionTask, TaskType, Triplet

Task = Triplet | InductionTask

#: Pairs of the seed induction task: the identity on string literals (written by hand, not
#: computed from model output; ``repr`` of a plain string literal is the literal itself).
_SEED_INDUCTION_PAIRS = (("'Hello World'", "'Hello World'"), ("'abc'", "'abc'"), ("'x y z'", "'x y z'"),
                         ("''", "''"))


@dataclass(frozen=True)
class Entry:
    """One buffered task with its provenance."""

    task: Task
    step: int  # step that produced it; -1 for the seed
    solve_rate: float | None = None  # estimated when proposed (None for seeds/backfill)

    @property
    def hash(self) -> str:
        return self.task.content_hash

    def to_dict(self, task_type: TaskType) -> dict:
        d = {"hash": self.hash, "type": task_type.value, "step": self.step, **self.task.to_dict()}
        if self.solve_rate is not None:
            d["solve_rate"] = self.solve_rate
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Entry":
        task_type = TaskType(d["type"])
        task = InductionTask.from_dict(d) if task_type is TaskType.INDUCTION else Triplet.from_dict(d)
        if d.get("hash") and d["hash"] != task.content_hash:
            raise ValueError(f"buffer entry hash mismatch: {d['hash']} vs {task.content_hash}")
        sr = d.get("solve_rate")
        return cls(task=task, step=int(d["step"]), solve_rate=None if sr is None else float(sr))


class TaskBuffer:
    """The tasks of one type (see the module docstring for the cap policy)."""

    def __init__(self, task_type: TaskType | str, cap: int = 0, policy: str = "newest", seed: int = 0):
        if cap < 0:
            raise ValueError(f"cap must be >= 0, got {cap}")
        if policy not in ("newest", "reservoir"):
            raise ValueError(f"unknown cap policy {policy!r}; known: newest, reservoir")
        self.task_type = TaskType(task_type)
        self.cap, self.policy, self.seed = cap, policy, seed
        self.entries: list[Entry] = []
        self._hashes: set[str] = set()
        self.n_seen = 0  # tasks ever accepted (new content), for reservoir sampling

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, task: Task) -> bool:
        return task.content_hash in self._hashes

    def add(self, task: Task, step: int, solve_rate: float | None = None) -> bool:
        """Add a task; False if an equal task is already buffered (or reservoir dropped it)."""
        expected = InductionTask if self.task_type is TaskType.INDUCTION else Triplet
        if not isinstance(task, expected):
            raise TypeError(f"{self.task_type} buffer takes {expected.__name__}, got {type(task).__name__}")
        h = task.content_hash
        if h in self._hashes:
            return False
        self.n_seen += 1
        entry = Entry(task, step, solve_rate)
        if not self.cap or len(self.entries) < self.cap:
            self.entries.append(entry)
        elif self.policy == "newest":
            self._hashes.discard(self.entries.pop(0).hash)
            self.entries.append(entry)
        else:
            j = random.Random(f"{self.seed}:{self.task_type.value}:{self.n_seen}").randrange(self.n_seen)
            if j >= self.cap:
                return False
            self._hashes.discard(self.entries[j].hash)
            self.entries[j] = entry
        self._hashes.add(h)
        return True

    def sample(self, k: int, rng: random.Random) -> list[Entry]:
        """k entries drawn uniformly with replacement (k may exceed the size); [] if empty."""
        if not self.entries or k <= 0:
            return []
        return [self.entries[rng.randrange(len(self.entries))] for _ in range(k)]

    def sample_distinct(self, k: int, rng: random.Random) -> list[Entry]:
        """Up to k distinct entries (all of them, shuffled, when k >= size)."""
        if k >= len(self.entries):
            out = list(self.entries)
            rng.shuffle(out)
            return out
        return rng.sample(self.entries, k)

    def from_step(self, step: int) -> list[Entry]:
        """Entries produced at ``step``."""
        return [e for e in self.entries if e.step == step]

    def distinct_programs(self) -> int:
        return len({e.task.program for e in self.entries})

    def to_jsonl(self, path: str | os.PathLike) -> None:
        """Write the entries, one JSON object a line, atomically."""
        path = Path(path)
        tmp = path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for e in self.entries:
                fh.write(json.dumps(e.to_dict(self.task_type), ensure_ascii=False) + "\n")
        os.replace(tmp, path)

    def load_jsonl(self, path: str | os.PathLike) -> None:
        """Replace the entries with those of a JSONL file written by ``to_jsonl``."""
        self.entries, self._hashes = [], set()
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    e = Entry.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError) as err:
                    raise ValueError(f"{path}:{n}: bad buffer entry: {err}") from None
                if e.hash not in self._hashes:
                    self.entries.append(e)
                    self._hashes.add(e.hash)


class Buffers:
    """The three task buffers of a run."""

    def __init__(self, cap: int = 0, policy: str = "newest", seed: int = 0):
        self.by_type = {t: TaskBuffer(t, cap, policy, seed) for t in TASK_TYPES}

    def __getitem__(self, task_type: TaskType | str) -> TaskBuffer:
        return self.by_type[TaskType(task_type)]

    def seed_zero(self) -> None:
        """Seed every buffer with the identity zero triplet (step -1)."""
        self[TaskType.DEDUCTION].add(ZERO_TRIPLET, -1)
        self[TaskType.ABDUCTION].add(ZERO_TRIPLET, -1)
        self[TaskType.INDUCTION].add(
            InductionTask(ZERO_TRIPLET.program, _SEED_INDUCTION_PAIRS, "Returns its argument unchanged."), -1
        )

    def programs(self) -> list[str]:
        """Distinct programs of the deduction and abduction buffers, in insertion order (the
        programs the induction proposer describes)."""
        seen: dict[str, None] = {}
        for t in (TaskType.DEDUCTION, TaskType.ABDUCTION):
            for e in self[t].entries:
                seen.setdefault(e.task.program, None)
        return list(seen)

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``<type>.jsonl`` for each type and ``state.json``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for t, buf in self.by_type.items():
            buf.to_jsonl(d / f"{t.value}.jsonl")
        tmp = d / "state.json.tmp"
        tmp.write_text(json.dumps({t.value: b.n_seen for t, b in self.by_type.items()}))
        os.replace(tmp, d / "state.json")

    def load(self, directory: str | os.PathLike) -> None:
        """Read buffers written by ``save``."""
        d = Path(directory)
        state = json.loads((d / "state.json").read_text()) if (d / "state.json").exists() else {}
        for t, buf in self.by_type.items():
            buf.load_jsonl(d / f"{t.value}.jsonl")
            buf.n_seen = int(state.get(t.value, len(buf)))

