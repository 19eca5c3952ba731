"""``azr tasks validate|verify FILE.jsonl``: the code-reasoning environment from the shell.

validate: each line ``{"id", "type", "program", "input"}`` (induction: ``"inputs": [...]``)
  -> one JSON line ``{"id", "valid", "reason", "output"}`` (induction: ``"outputs"``).
verify:   each line ``{"id", "type", "program", "input", "output", "answer"}``
  (induction: ``"pairs": [[input, output], ...]`` and ``answer`` = a program)
  -> one JSON line ``{"id", "correct", "reason"}``.

Exit code 0 when every line was processed (invalid tasks and wrong answers included);
1 when some lines were malformed (each reported on stderr with its line number, the rest
still processed); 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Iterator

TASK_TYPES = ("deduction", "abduction", "induction")
_CHUNK = 256  # records validated/verified per sandbox batch (bounded memory, streamed output)


def register(subparsers) -> None:
    p = subparsers.add_parser("tasks", help="validate proposed tasks / verify answers in the sandbox")
    sub = p.add_subparsers(dest="tasks_command", metavar="ACTION")
    for name, helptext, func in (
        ("validate", "validate proposals: {id, type, program, input|inputs} per line", _cmd_validate),
        ("verify", "verify answers: {id, type, program, input, output, answer|pairs} per line", _cmd_verify),
    ):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("file", help="JSONL file ('-' for stdin)")
        q.add_argument("--timeout", type=float, default=5.0, help="wall-clock limit per program, seconds")
        q.add_argument("--workers", type=int, default=2, help="programs run concurrently")
        q.add_argument("--memory-mb", type=int, default=512, help="address-space limit per program, MiB")
        q.add_argument("--literal-inputs", action="store_true",
                       help="require inputs/answers to be literals (not expressions)")
        q.set_defaults(func=func)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _read_records(fh, path: str, required: Callable[[dict], str | None]) -> Iterator[tuple[int, dict | None]]:
    """Yield (line number, record) for each non-blank line; record is None when malformed
    (the problem is reported on stderr)."""
    try:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                _complain(path, lineno, f"not valid JSON ({e.msg})")
                yield lineno, None
                continue
            problem = required(rec) if isinstance(rec, dict) else "not a JSON object"
            if problem:
                _complain(path, lineno, problem)
                yield lineno, None
                continue
            yield lineno, rec
    finally:
        if fh is not sys.stdin:
            fh.close()


def _complain(path: str, lineno: int, msg: str) -> None:
    print(f"{path}:{lineno}: {msg}", file=sys.stderr)


def _need(rec: dict, fields: dict[str, type]) -> str | None:
    for name, typ in fields.items():
        if name not in rec:
            return f"missing field {name!r}"
        if not isinstance(rec[name], typ):
            return f"field {name!r} must be a {typ.__name__}"
    return None


def _type_problem(rec: dict) -> str | None:
    if rec.get("type") not in TASK_TYPES:
        return f"field 'type' must be one of {', '.join(TASK_TYPES)}"
    if "id" not in rec:
        return "missing field 'id'"
    return None


def _validate_fields(rec: dict) -> str | None:
    problem = _type_problem(rec)
    if problem:
        return problem
    if rec["type"] == "induction":
        problem = _need(rec, {"program": str, "inputs": list})
        if not problem and not all(isinstance(i, str) for i in rec["inputs"]):
            problem = "field 'inputs' must be a list of strings"
        return problem
    return _need(rec, {"program": str, "input": str})


def _verify_fields(rec: dict) -> str | None:
    problem = _type_problem(rec)
    if problem:
        return problem
    if rec["type"] == "deduction":
        return _need(rec, {"output": str, "answer": str})
    if rec["type"] == "abduction":
        return _need(rec, {"program": str, "output": str, "answer": str})
    problem = _need(rec, {"pairs": list, "answer": str})
    if not problem and not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in rec["pairs"]
    ):
        problem = "field 'pairs' must be a list of [input, output] string pairs"
    return problem


def _executor_config(args):
    from azr.executor import ExecutorConfig

    return ExecutorConfig(workers=args.workers, timeout_s=args.timeout, memory_mb=args.memory_mb)


def _run(args, required, process) -> int:
    """Shared driver: read records in chunks, process each chunk in the sandbox, print."""
    from azr.executor import Sandbox

    try:
        config = _executor_config(args)
    except ValueError as e:
        print(f"azr tasks: {e}", file=sys.stderr)
        return 2
    malformed = 0
    try:
        fh = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    except OSError as e:
        print(f"azr tasks: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        records = _read_records(fh, args.file, required)
        with Sandbox(config) as sandbox:
            chunk: list[dict] = []
            for _, rec in records:
                if rec is None:
                    malformed += 1
                    continue
                chunk.append(rec)
                if len(chunk) >= _CHUNK:
                    _emit(process(sandbox, chunk, args))
                    chunk = []
            if chunk:
                _emit(process(sandbox, chunk, args))
    except OSError as e:
        print(f"azr tasks: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as e:
        print(f"azr tasks: cannot read {args.file}: not UTF-8 text ({e.reason})", file=sys.stderr)
        return 2
    if malformed:
        print(f"azr tasks: {malformed} malformed line(s) skipped", file=sys.stderr)
        return 1
    return 0


def _emit(rows: list[dict]) -> None:
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    sys.stdout.flush()


def _process_validate(sandbox, chunk: list[dict], args) -> list[dict]:
    from azr.executor import Proposal, ValidationLimits, validate

    props = [Proposal(r["program"], tuple(r["inputs"]) if r["type"] == "induction" else (r["input"],)) for r in chunk]
    limits = ValidationLimits(literal_inputs=args.literal_inputs)
    rows = []
    for rec, v in zip(chunk, validate(sandbox, props, limits)):
        row = {"id": rec["id"], "valid": v.valid, "reason": v.reason if not v.detail else f"{v.reason}: {v.detail}"}
        if rec["type"] == "induction":
            row["outputs"] = list(v.outputs) if v.outputs is not None else None
        else:
            row["output"] = v.output
        rows.append(row)
    return rows


def _process_verify(sandbox, chunk: list[dict], args) -> list[dict]:
    from azr.executor import VerifyRequest, verify

    reqs = [
        VerifyRequest(
            r["type"],
            answer=r["answer"],
            program=r.get("program", "") if isinstance(r.get("program", ""), str) else "",
            output=r.get("output", ""),
            pairs=tuple(tuple(p) for p in r.get("pairs", ())),
        )
        for r in chunk
    ]
    verdicts = verify(sandbox, reqs, literal_answers=args.literal_inputs)
    return [{"id": r["id"], "correct": v.correct, "reason": v.reason} for r, v in zip(chunk, verdicts)]


def _cmd_validate(args: argparse.Namespace) -> int:
    return _run(args, _validate_fields, _process_validate)


def _cmd_verify(args: argparse.Namespace) -> int:
    return _run(args, _verify_fields, _process_verify)
