"""``azr tasks validate|verify FILE.jsonl``: the code-reasoning environment from the shell.

validate: each line ``{"id", "type", "program", "input"}`` (induction: ``"inputs": [...]``)
  -> one JSON line ``{"id", "valid", "reason", "output"}`` (induction: ``"outputs"``).
verify:   each line ``{"id", "type", "program", "input", "output", "answer"}``
  (induction: ``"pairs": [[input, output], ...]`` and ``answer`` = a program)
  -> one JSON line ``{"id", "correct", "reason"}``. Deduction and abduction answers are
  parsed as data, never run (``--code-answers`` lets abduction answers that are not plain
  data run as expressions, as CRUXEval's protocol needs; see ``azr.executor.verification``).

Every input line gets exactly one output line, in order, always valid UTF-8 JSON (lone
surrogates are replaced by U+FFFD). A line that cannot be used (not UTF-8, not JSON, nested
too deeply, an integer too large, a missing or mistyped field, a blank line) gets
``{"id", "line", "valid"/"correct": false, "reason": "malformed_record: <why>"}`` and a
line-numbered message on stderr. Exit code 0 when the file was processed (invalid tasks,
wrong answers and malformed lines included); 2 when it cannot be read or an option is bad.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Callable, Iterator

TASK_TYPES = ("deduction", "abduction", "induction")
_CHUNK = 256  # records validated/verified per sandbox batch (bounded memory, streamed output)
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_LINE_BYTES = 4_000_000  # a longer line is reported as malformed without parsing it


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
                       help="validate: require inputs to be literals (not expressions)")
        if name == "verify":
            q.add_argument("--code-answers", action="store_true",
                           help="let abduction answers that are not plain data run as expressions (CRUXEval protocol)")
        q.set_defaults(func=func)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def _read_records(fh, path: str, required: Callable[[dict], str | None]) -> Iterator[tuple[int, dict | None, str]]:
    """Yield ``(line number, record, problem)`` for every line of a binary file handle:
    ``record`` is None and ``problem`` says why when the line cannot be used (reported on
    stderr too). Never raises on content."""
    for lineno, raw in enumerate(_lines(fh), start=1):
        rec, problem = None, ""
        try:
            if raw is None:
                raise ValueError(f"line longer than {_MAX_LINE_BYTES} bytes")
            line = raw.decode("utf-8")
            if not line.strip():
                raise ValueError("blank line")
            rec = json.loads(line, parse_constant=_no_constants)
        except UnicodeDecodeError as e:
            problem = f"not UTF-8 text ({e.reason})"
        except RecursionError:
            problem = "not valid JSON (nested too deeply)"
        except json.JSONDecodeError as e:
            problem = f"not valid JSON ({e.msg})"
        except (ValueError, MemoryError) as e:
            why = str(e)[:100]
            problem = why if why == "blank line" or why.startswith("line longer") else f"not valid JSON ({why})"
        if not problem:
            problem = (required(rec) if isinstance(rec, dict) else "not a JSON object") or ""
        if problem:
            _complain(path, lineno, problem)
            yield lineno, None, problem
            rec = None
        else:
            yield lineno, rec, ""


def _lines(fh) -> Iterator[bytes | None]:
    """The file's lines as bytes; ``None`` for a line longer than ``_MAX_LINE_BYTES`` (read
    past in bounded pieces, never held whole)."""
    while True:
        raw = fh.readline(_MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > _MAX_LINE_BYTES:
            while not raw.endswith(b"\n"):
                raw = fh.readline(1 << 20)
                if not raw:
                    break
            yield None
        else:
            yield raw


def _complain(path: str, lineno: int, msg: str) -> None:
    print(_utf8(f"{path}:{lineno}: {msg}"), file=sys.stderr)


def _utf8(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (always encodable as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text)


def _clean(obj, depth: int = 0):
    """A JSON-ready copy of a row: strings valid UTF-8, no NaN/Infinity, bounded depth."""
    if isinstance(obj, str):
        return _utf8(obj)
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if depth > 50:
        return None
    if isinstance(obj, dict):
        return {_utf8(str(k)): _clean(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v, depth + 1) for v in obj]
    return None


def _need(rec: dict, fields: dict[str, type]) -> str | None:
    for name, typ in fields.items():
        if name not in rec:
            return f"missing field {name!r}"
        if not isinstance(rec[name], typ):
            return f"field {name!r} must be a {typ.__name__}"
    return None


def _type_problem(rec: dict) -> str | None:
    if "id" not in rec:
        return "missing field 'id'"
    if not isinstance(rec.get("type"), str) or rec["type"] not in TASK_TYPES:
        return f"field 'type' must be one of {', '.join(TASK_TYPES)}"
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


def _run(args, required, process, flag: str) -> int:
    """Shared driver: read records in chunks, process each chunk in the sandbox, print one
    row per input line, in order."""
    from azr.executor import Sandbox

    try:
        config = _executor_config(args)
    except ValueError as e:
        print(f"azr tasks: {e}", file=sys.stderr)
        return 2
    try:
        fh = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    except OSError as e:
        print(f"azr tasks: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        with Sandbox(config) as sandbox:
            chunk: list[tuple[int, dict | None, str]] = []
            for item in _read_records(fh, args.file, required):
                chunk.append(item)
                if len(chunk) >= _CHUNK:
                    _emit(_process_chunk(sandbox, chunk, args, process, flag))
                    chunk = []
            if chunk:
                _emit(_process_chunk(sandbox, chunk, args, process, flag))
    except OSError as e:
        print(f"azr tasks: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    return 0


def _id_of(rec: object):
    return rec.get("id") if isinstance(rec, dict) else None


def _process_chunk(sandbox, chunk, args, process, flag: str) -> list[dict]:
    """Rows for one chunk of lines: the good records go to the sandbox in one batch; an
    unexpected failure of that batch becomes a per-line error, never a crash."""
    good = [rec for _, rec, _ in chunk if rec is not None]
    try:
        done = iter(process(sandbox, good, args) if good else [])
        failure = ""
    except Exception as e:  # noqa: BLE001 - one bad batch must not lose the file
        done, failure = iter(()), f"internal_error: {type(e).__name__}: {str(e)[:200]}"
    rows = []
    for lineno, rec, problem in chunk:
        if rec is None:
            rows.append({"id": None, "line": lineno, flag: False, "reason": f"malformed_record: {problem}"})
        elif failure:
            rows.append({"id": _id_of(rec), "line": lineno, flag: False, "reason": failure})
        else:
            rows.append(next(done))
    return rows


def _emit(rows: list[dict]) -> None:
    out = sys.stdout
    for row in rows:
        try:
            text = json.dumps(_clean(row), ensure_ascii=False, allow_nan=False)
        except (ValueError, TypeError, RecursionError):
            text = json.dumps({"id": None, "reason": "internal_error: unprintable row"})
        data = (text + "\n").encode("utf-8")
        if hasattr(out, "buffer"):  # bytes: valid UTF-8 whatever the locale's encoding is
            out.flush()
            out.buffer.write(data)
        else:
            out.write(data.decode("utf-8"))
    out.flush()
    if hasattr(out, "buffer"):
        out.buffer.flush()


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
    verdicts = verify(sandbox, reqs, code_answers=args.code_answers)
    return [{"id": r["id"], "correct": v.correct, "reason": v.reason} for r, v in zip(chunk, verdicts)]


def _cmd_validate(args: argparse.Namespace) -> int:
    return _run(args, _validate_fields, _process_validate, "valid")


def _cmd_verify(args: argparse.Namespace) -> int:
    return _run(args, _verify_fields, _process_verify, "correct")
