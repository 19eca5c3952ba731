"""The sandbox API: jobs in, typed results out, in order, from several threads."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from azr.executor import STATUSES, ExecResult, ExecutorConfig, Job, Sandbox, SandboxError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sb():
    with Sandbox(ExecutorConfig(workers=2, timeout_s=2.0)) as s:
        yield s


def test_results_are_typed_and_in_order(sb):
    jobs = [Job("def f(x):\n    return x * 2", f"f({i})") for i in range(40)]
    res = sb.run(jobs)
    assert [r.value for r in res] == [repr(2 * i) for i in range(40)]
    assert all(isinstance(r, ExecResult) and r.status == "ok" and r.duration_s > 0 for r in res)


def test_status_kinds(sb):
    res = sb.run([
        Job("x = [1, 'a', None]", "x"),
        Job("raise KeyError('k')"),
        Job("while True: pass", timeout_s=0.3),
        Job("x = bytearray(4 * 1024 ** 3)"),
        Job("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\nwhile True: pass", timeout_s=1),
    ])
    assert [r.status for r in res[:4]] == ["ok", "error", "timeout", "memory"]
    assert res[0].value == "[1, 'a', None]"
    assert res[1].error_type == "KeyError" and "k" in res[1].error_message
    assert res[4].status in ("killed", "timeout")  # PID 1 of a namespace ignores self-sent signals
    assert {r.status for r in res} <= set(STATUSES)


def test_code_without_expr_means_script_ran_clean(sb):
    ok, bad = sb.run([Job("assert 1 + 1 == 2"), Job("assert 1 + 1 == 3")])
    assert ok.status == "ok" and ok.value is None
    assert bad.status == "error" and bad.error_type == "AssertionError"


def test_syntax_error_is_an_error_result(sb):
    res = sb.run([Job("def f(:\n  pass")])[0]
    assert res.status == "error" and res.error_type == "SyntaxError"


def test_stdlib_imports_work_in_programs(sb):
    res = sb.run([Job("import collections, itertools, heapq, string, hashlib", "hashlib.md5(b'a').hexdigest()")])[0]
    assert res.status == "ok" and res.value == repr("0cc175b9c0f1b6a831c399e269772661")


def test_replicas_run_in_different_processes(sb):
    # each worker process has its own hash seed: equal within a replica, different across
    res = sb.run([Job("", "hash('abc')", replica=r) for r in (0, 1, 0, 1)])
    assert res[0].value == res[2].value and res[1].value == res[3].value
    assert res[0].value != res[1].value


def test_concurrent_callers_from_threads(sb):
    out: dict[int, list[str]] = {}

    def worker(k: int) -> None:
        out[k] = [r.value for r in sb.run([Job("", f"{k} * 100 + {i}") for i in range(10)])]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {k: [str(k * 100 + i) for i in range(10)] for k in range(4)}


def test_protections_are_reported(sb):
    for key in ("pid_namespace", "network_namespace", "mount_namespace", "unprivileged_user", "rlimits"):
        assert isinstance(sb.protections[key], bool)
    assert sb.protections["rlimits"] and sb.protections["wall_clock_kill"]


def test_bad_arguments_and_closed_sandbox():
    with pytest.raises(ValueError):
        ExecutorConfig(workers=0)
    with pytest.raises(ValueError):
        ExecutorConfig(timeout_s=0)
    with pytest.raises(ValueError):
        ExecutorConfig.from_dict({"nope": 1})
    assert ExecutorConfig.from_dict(ExecutorConfig(workers=3).to_dict()) == ExecutorConfig(workers=3)
    s = Sandbox(ExecutorConfig(workers=1))
    with pytest.raises(TypeError):
        s.run(["x = 1"])  # type: ignore[list-item]
    assert s.run([]) == []
    s.close()
    s.close()
    with pytest.raises(SandboxError):
        s.run([Job("x = 1")])


def test_executor_and_tasks_do_not_import_torch():
    code = "import sys, azr.tasks, azr.executor, azr.tasks.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_usable_from_a_process_that_imported_torch():
    torch = pytest.importorskip("torch")  # the suite imports it anyway; workers are not forked from us
    with Sandbox(ExecutorConfig(workers=2)) as s:
        assert [r.value for r in s.run([Job("", str(i)) for i in range(4)])] == ["0", "1", "2", "3"]
    assert torch.ones(2).sum().item() == 2.0


def test_job_arguments_are_checked():
    with pytest.raises(TypeError):
        Job(b"x = 1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Job("x = 1", timeout_s=-1)
    with pytest.raises(ValueError):
        Job("x = 1", replica=-1)


def test_readme_example(sb):
    from azr.executor import Proposal, VerifyRequest, validate, verify

    prog = "def f(a):\n    return a[::-1]"
    assert validate(sb, [Proposal(prog, ("'abc'",))])[0].output == "'cba'"
    assert verify(sb, [VerifyRequest("abduction", answer="'cba'", program=prog, output="'abc'")])[0].correct


def test_a_forked_copy_refuses_to_use_the_parents_workers(sb):
    import os

    pid = os.fork()
    if pid == 0:  # child: must not talk to (or close) the parent's workers
        try:
            sb.run([Job("x = 1")])
            code = 1
        except SandboxError:
            code = 0
        sb.close()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert sb.run([Job("", "7")])[0].value == "7"  # the parent's pool is intact
