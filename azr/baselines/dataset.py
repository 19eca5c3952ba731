"""Fixed datasets of code-reasoning problems for the RLVR and SFT baselines (torch-free).

A dataset is JSONL, one problem per line, in the buffer-entry format of docs/interfaces.md,
so a self-play buffer file (or a whole run's ``buffers/`` folder) is a dataset as it is::

    {"type": "deduction", "program": "def f(a):\\n    return a", "input": "1", "output": "1"}
    {"type": "induction", "program": "...", "inputs": ["1", "2"], "outputs": ["2", "4"],
     "message": "doubles"}

``hash`` and ``step`` are optional (ignored on load: the hash is recomputed from the content;
``step`` is kept for reference). Deduction and abduction records are triplets; the record's
``type`` says which task the solver is asked. Problems are de-duplicated by (type, hash).

Evaluation benchmarks must never become training data. ``check_not_benchmark`` and
``check_no_benchmark_programs`` refuse a file that (1) has the sha256 of a known benchmark file (``azr.eval.manifest``), (2) lies in
the benchmark data directory, or (3) contains a program of CRUXEval (compared after
whitespace normalisation, when that file is present in the data directory). ``force=True``
skips the check, for users who know what they are doing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from azr.tasks import InductionTask, TaskType, Triplet, render_solution, solver_prompt


class DatasetError(ValueError):
    """A dataset file is unreadable or a record is malformed (the message names the line)."""


class BenchmarkRefused(DatasetError):
    """A dataset is (or contains) an evaluation benchmark; pass ``force`` to use it anyway."""


@dataclass(frozen=True)
class Problem:
    """One solver problem: a task type and its task (a triplet, or an induction task)."""

    task_type: TaskType
    task: Triplet | InductionTask
    step: int | None = None  # the self-play step that proposed it, when known

    @property
    def key(self) -> tuple[str, str]:
        """De-duplication key: (task type, content hash)."""
        return (self.task_type.value, self.task.content_hash)

    def prompt(self, template_set: str = "reference") -> str:
        """The solver prompt (the self-play template set ``template_set``)."""
        return solver_prompt(self.task_type, self.task, template_set=template_set)

    def reference_answer(self) -> str:
        """A correct answer: the output (deduction), the input (abduction), the program (induction)."""
        if self.task_type is TaskType.DEDUCTION:
            return self.task.output
        if self.task_type is TaskType.ABDUCTION:
            return self.task.input
        return self.task.program

    def reference_completion(self, think: str = "") -> str:
        """The reference answer as a canonical solver completion (SFT target)."""
        return render_solution(self.task_type, self.reference_answer(), think=think)

    def to_record(self) -> dict:
        """The buffer-entry form of this problem (what ``load_dataset`` reads)."""
        rec = {"hash": self.task.content_hash, "type": self.task_type.value}
        if self.step is not None:
            rec["step"] = self.step
        rec.update(self.task.to_dict())
        return rec


def parse_record(rec: object, where: str = "record") -> Problem:
    """A ``Problem`` from one decoded JSON line; ``DatasetError`` naming ``where`` otherwise."""
    if not isinstance(rec, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    try:
        task_type = TaskType(rec.get("type"))
    except ValueError:
        raise DatasetError(
            f"{where}: 'type' must be one of deduction, abduction, induction, got {rec.get('type')!r}"
        ) from None
    needed = ("program", "inputs", "outputs") if task_type is TaskType.INDUCTION else ("program", "input", "output")
    missing = [k for k in needed if k not in rec]
    if missing:
        raise DatasetError(f"{where}: {task_type.value} record lacks {', '.join(missing)}")
    step = rec.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise DatasetError(f"{where}: 'step' must be an integer, got {step!r}")
    try:
        if task_type is TaskType.INDUCTION:
            if not isinstance(rec["inputs"], list) or not isinstance(rec["outputs"], list):
                raise ValueError("'inputs' and 'outputs' must be lists")
            task: Triplet | InductionTask = InductionTask.from_dict(rec)
            if len(task.pairs) < 2 or not task.hidden:
                raise ValueError("an induction record needs at least 2 pairs (some of them hidden)")
        else:
            for k in needed:
                if not isinstance(rec[k], str):
                    raise ValueError(f"{k!r} must be a string, got {type(rec[k]).__name__}")
            task = Triplet.from_dict(rec)
    except (ValueError, TypeError, KeyError) as e:
        raise DatasetError(f"{where}: {e}") from None
    if not task.program.strip():
        raise DatasetError(f"{where}: empty program")
    return Problem(task_type, task, step)


def _jsonl_files(path: Path) -> list[Path]:
    """The JSONL files a dataset path names: a file; a folder of *.jsonl; a run directory
    (its ``buffers/`` folder)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        folder = path / "buffers" if (path / "buffers").is_dir() else path
        files = sorted(folder.glob("*.jsonl"))
        if files:
            return files
        raise DatasetError(f"{path}: no *.jsonl files (expected a dataset file, a folder of them, or a run directory)")
    raise DatasetError(f"{path}: no such dataset file or folder")


def load_dataset(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    task_types: Iterable[TaskType | str] | None = None,
    force: bool = False,
    data_dir: str | os.PathLike | None = None,
) -> list[Problem]:
    """Problems from JSONL files (or folders / run directories), de-duplicated, in file order.

    Each file is checked with ``check_not_benchmark`` first (unless ``force``). ``task_types``
    keeps only those types. Empty lines are skipped; a malformed line is an error naming
    ``file:line``. An empty result is an error too.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    keep = {TaskType(t) for t in task_types} if task_types is not None else set(TaskType)
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for root in paths:
        for file in _jsonl_files(Path(root)):
            if not force:
                check_not_benchmark(file, data_dir=data_dir)
            problems_in_file = _read_file(file)
            if not force:
                check_no_benchmark_programs(file, problems_in_file, data_dir=data_dir)
            for p in problems_in_file:
                if p.task_type in keep and p.key not in seen:
                    seen.add(p.key)
                    problems.append(p)
    if not problems:
        names = ", ".join(sorted(t.value for t in keep))
        raise DatasetError(f"no problems of type {names} in {', '.join(map(str, paths))}")
    return problems


def _read_file(file: Path) -> list[Problem]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{file}: cannot read ({e})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{file}:{n}: malformed JSON ({e.msg})") from None
        out.append(parse_record(rec, f"{file}:{n}"))
    return out


def write_dataset(problems: Iterable[Problem], path: str | os.PathLike) -> Path:
    """Write problems as JSONL in the buffer-entry format (atomic: temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for p in problems:
            f.write(json.dumps(p.to_record(), ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


# --- benchmark refusal --------------------------------------------------------------------


def normalize_program(src: str) -> str:
    """Whitespace-insensitive form of a program: stripped non-empty lines joined by newlines."""
    return "\n".join(line.strip() for line in src.strip().splitlines() if line.strip())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_BENCHMARK_PROGRAMS: dict[str, frozenset[str]] = {}


def benchmark_program_hashes(data_dir: str | os.PathLike | None = None) -> frozenset[str]:
    """Hashes of the normalised CRUXEval programs in the data directory (empty if absent)."""
    from azr.eval.data import data_dir as resolve_data_dir

    file = resolve_data_dir(data_dir) / "cruxeval" / "cruxeval.jsonl"
    key = str(file)
    if key not in _BENCHMARK_PROGRAMS:
        hashes: set[str] = set()
        if file.is_file():
            for line in file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    code = json.loads(line).get("code", "")
                    hashes.add(_digest(normalize_program(code)))
        _BENCHMARK_PROGRAMS[key] = frozenset(hashes)
    return _BENCHMARK_PROGRAMS[key]


_HINT = "; pass --force to train on it anyway"


def check_not_benchmark(file: str | os.PathLike, *, data_dir: str | os.PathLike | None = None) -> None:
    """Raise ``BenchmarkRefused`` if ``file`` is an evaluation benchmark file: its sha256 is
    that of a known benchmark file, or it lies inside the benchmark data directory."""
    from azr.eval.data import data_dir as resolve_data_dir
    from azr.eval.data import sha256_of
    from azr.eval.manifest import MANIFEST

    file = Path(file)
    hint = _HINT
    digest = sha256_of(file)
    for entry in MANIFEST:
        if entry.sha256 == digest:
            raise BenchmarkRefused(f"{file} is the evaluation benchmark file {entry.file} (sha256 match){hint}")
    root = resolve_data_dir(data_dir)
    if root.is_dir() and file.resolve().is_relative_to(root.resolve()):
        raise BenchmarkRefused(f"{file} lies in the benchmark data directory {root}{hint}")


def check_no_benchmark_programs(
    file: str | os.PathLike, problems: Sequence[Problem], *, data_dir: str | os.PathLike | None = None
) -> None:
    """Raise ``BenchmarkRefused`` if any of ``problems`` (read from ``file``) uses a CRUXEval
    program (whitespace-normalised comparison; skipped when CRUXEval is not in the data dir)."""
    hint = _HINT
    known = benchmark_program_hashes(data_dir)
    if known:
        hits = [p for p in problems if _digest(normalize_program(p.task.program)) in known]
        if hits:
            raise BenchmarkRefused(
                f"{file}: {len(hits)} of {len(problems)} problems use CRUXEval programs "
                f"(e.g. {hits[0].task.program.splitlines()[0]!r}){hint}"
            )
