"""``azr tasks validate|verify``: JSON lines out, line-numbered errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from azr.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def _rows(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_validate(tmp_path, capsys):
    path = _write(tmp_path, [
        {"id": "a", "type": "deduction", "program": "def f(x):\n    return x * 2", "input": "21"},
        {"id": "b", "type": "abduction", "program": "import subprocess\ndef f(x):\n    return x", "input": "1"},
        {"id": "c", "type": "induction", "program": "def f(x):\n    return -x", "inputs": ["1", "2.5"]},
        {"id": "d", "type": "deduction", "program": "def f(x):\n    while True: pass", "input": "1"},
    ])
    code = main(["tasks", "validate", str(path), "--timeout", "0.5", "--workers", "2", "--memory-mb", "256"])
    rows = _rows(capsys.readouterr().out)
    assert code == 0
    assert rows[0] == {"id": "a", "valid": True, "reason": "", "output": "42"}
    assert rows[1]["valid"] is False and rows[1]["reason"].startswith("forbidden_import:subprocess")
    assert rows[2] == {"id": "c", "valid": True, "reason": "", "outputs": ["-1", "-2.5"]}
    assert rows[3]["valid"] is False and rows[3]["reason"].startswith("timeout")


def test_verify(tmp_path, capsys):
    path = _write(tmp_path, [
        {"id": 1, "type": "deduction", "program": "def f(x):\n    return x", "input": "1", "output": "1", "answer": "1.0"},
        {"id": 2, "type": "deduction", "program": "def f(x):\n    return x", "input": "1", "output": "'1'", "answer": "1"},
        {"id": 3, "type": "abduction", "program": "def f(x):\n    return x % 2", "input": "1", "output": "1", "answer": "7"},
        {"id": 4, "type": "induction", "pairs": [["1", "2"], ["5", "6"]], "answer": "def f(x):\n    return x + 1"},
        {"id": 5, "type": "induction", "pairs": [["1", "2"], ["5", "6"]], "answer": "def f(x):\n    return 2"},
    ])
    code = main(["tasks", "verify", str(path)])
    rows = _rows(capsys.readouterr().out)
    assert code == 0
    assert [(r["id"], r["correct"]) for r in rows] == [(1, True), (2, False), (3, True), (4, True), (5, False)]
    assert rows[1]["reason"] == "wrong_value"


def test_malformed_lines_are_reported_and_the_rest_processed(tmp_path, capsys):
    path = _write(tmp_path, [
        {"id": 1, "type": "deduction", "program": "def f(x):\n    return x", "input": "1"},
        "this is not json",
        {"id": 3, "type": "sideways", "program": "def f(x):\n    return x", "input": "1"},
        {"id": 4, "type": "deduction", "program": "def f(x):\n    return x"},
        "[1, 2]",
        {"id": 6, "type": "induction", "program": "def f(x):\n    return x", "inputs": "1"},
        {"id": 7, "type": "deduction", "program": "def f(x):\n    return x", "input": "7"},
    ])
    code = main(["tasks", "validate", str(path)])
    captured = capsys.readouterr()
    assert code == 0
    rows = _rows(captured.out)
    assert [r.get("line") for r in rows] == [None, 2, 3, 4, 5, 6, None]
    assert [r["id"] for r in rows] == [1, None, None, None, None, None, 7]
    assert rows[0]["valid"] and rows[6]["valid"] and rows[6]["output"] == "7"
    assert all(r["valid"] is False and r["reason"].startswith("malformed_record: ") for r in rows[1:6])
    for lineno in (2, 3, 4, 5, 6):
        assert f"in.jsonl:{lineno}:" in captured.err
    assert "in.jsonl:1:" not in captured.err and "in.jsonl:7:" not in captured.err


def test_unreadable_file_and_bad_options(tmp_path, capsys):
    assert main(["tasks", "verify", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00garbage\n")  # readable: one error line
    assert main(["tasks", "verify", str(tmp_path / "bin.jsonl")]) == 0
    assert "not UTF-8" in _rows(capsys.readouterr().out)[0]["reason"]
    path = _write(tmp_path, [{"id": 1, "type": "deduction", "output": "1", "answer": "1"}])
    assert main(["tasks", "verify", str(path), "--workers", "0"]) == 2
    assert "workers" in capsys.readouterr().err


def test_console_entry_point_runs(tmp_path):
    path = _write(tmp_path, [{"id": 1, "type": "deduction", "output": "[1, 2]", "answer": "[1,2]"}])
    out = subprocess.run([sys.executable, "-m", "azr", "tasks", "verify", str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert _rows(out.stdout) == [{"id": 1, "correct": True, "reason": "correct"}]
