"""One adversarial test per containment property of the sandbox.

These call the raw ``Sandbox.run`` (no static checks) so that the sandbox itself is what
stops each program. Protections that need root (namespaces, the user switch) are skipped
with a message where they are not active.
"""

from __future__ import annotations

import os
import socket
import textwrap
import threading
import uuid

import pytest

from azr.executor import ExecutorConfig, Job, Sandbox

CFG = ExecutorConfig(workers=2, timeout_s=2.0, memory_mb=256, max_file_mb=4, max_open_files=32,
                     max_procs=24, max_output_bytes=10_000)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(CFG) as s:
        yield s


def run(sb: Sandbox, code: str, expr: str | None = None, timeout_s: float | None = None, replica=None):
    return sb.run([Job(textwrap.dedent(code), expr, timeout_s, replica)])[0]


def need(sb: Sandbox, prot: str) -> None:
    if not sb.protections.get(prot):
        pytest.skip(f"protection {prot!r} is not active here (needs root / kernel support)")


def _procs_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


# --- time -----------------------------------------------------------------------------
def test_python_busy_loop_is_killed_on_wall_clock(sb):
    res = run(sb, "while True: pass", timeout_s=0.5)
    assert res.status == "timeout"
    assert res.duration_s < 5


def test_c_level_loop_is_killed_from_outside(sb):
    # sum(range(...)) never returns to the interpreter loop: only an outside kill stops it
    res = run(sb, "sum(range(10**12))", timeout_s=0.5)
    assert res.status == "timeout"


def test_cpu_limit_is_set_per_program(sb):
    res = run(sb, "import resource", "resource.getrlimit(resource.RLIMIT_CPU)", timeout_s=1.0)
    assert res.status == "ok"
    soft, hard = eval(res.value)  # test-side only: a tuple of ints we just produced
    assert 0 < soft <= 3 and soft <= hard


def test_ignoring_sigterm_and_sigxcpu_does_not_help(sb):
    code = """
    import signal
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    while True:
        pass
    """
    assert run(sb, code, timeout_s=0.5).status == "timeout"


# --- resources ------------------------------------------------------------------------
def test_memory_limit(sb):
    res = run(sb, "x = bytearray(1024 * 1024 * 1024)")  # 1 GiB > 256 MiB
    assert res.status == "memory"


def test_file_size_limit(sb):
    code = """
    try:
        with open('big', 'wb') as fh:
            fh.write(b'x' * (8 * 1024 * 1024))
        err = None
    except OSError as e:
        err = e.errno
    import os
    """
    res = run(sb, code, "(err, os.path.getsize('big'))")
    assert res.status == "ok"
    err, size = eval(res.value)
    assert err is not None and size <= 4 * 1024 * 1024


def test_open_file_limit(sb):
    code = """
    fhs = []
    try:
        for i in range(1000):
            fhs.append(open(f'f{i}', 'w'))
    except OSError as e:
        err = e.errno
    """
    res = run(sb, code, "(err, len(fhs))")
    assert res.status == "ok"
    err, n = eval(res.value)
    assert n < 32


def test_fork_bomb_is_bounded_and_cleaned_up(sb):
    marker = f"azr-forkbomb-{uuid.uuid4().hex}"
    code = f"""
    import os
    n = 0
    try:
        while n < 1000:
            pid = os.fork()
            if pid == 0:
                os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600; : {marker}'])
            n += 1
    except OSError:
        pass
    """
    res = run(sb, code, "n", timeout_s=3)
    assert res.status == "ok"
    assert int(res.value) < CFG.max_procs
    assert _procs_with(marker) == []


def test_setsid_double_fork_leaves_no_stray_process(sb):
    marker = f"azr-stray-{uuid.uuid4().hex}"
    code = f"""
    import os
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600; : {marker}'])
        os._exit(0)
    import select
    select.select([], [], [], 0.3)
    """
    res = run(sb, code)
    assert res.status == "ok"
    assert _procs_with(marker) == []


def test_setsid_double_fork_cleaned_up_without_namespaces():
    """The fallback path (no PID namespace, not root-dependent): subreaper + kill."""
    cfg = ExecutorConfig(isolate_pids=False, isolate_mounts=False, isolate_network=False, timeout_s=3)
    marker = f"azr-stray-nons-{uuid.uuid4().hex}"
    code = f"""
    import os
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600; : {marker}'])
        os._exit(0)
    import select
    select.select([], [], [], 0.3)
    """
    with Sandbox(cfg) as s:
        assert s.protections["pid_namespace"] is False
        res = run(s, code)
    assert res.status == "ok"
    assert _procs_with(marker) == []


# --- network and filesystem -----------------------------------------------------------
def test_no_network_even_to_the_callers_loopback(sb):
    need(sb, "network_namespace")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    t.start()
    code = f"""
    import socket
    errs = []
    for addr in [('127.0.0.1', {port}), ('8.8.8.8', 53), ('1.1.1.1', 443)]:
        try:
            socket.create_connection(addr, timeout=0.5)
            errs.append(None)
        except OSError as e:
            errs.append(type(e).__name__)
    """
    res = run(sb, code, "errs")
    server.close()
    assert res.status == "ok"
    assert None not in eval(res.value)
    assert accepted == []


def test_no_writes_outside_the_run_directory(sb):
    need(sb, "mount_namespace")
    tag = uuid.uuid4().hex
    targets = [f"/tmp/azr-{tag}", f"/var/tmp/azr-{tag}", f"/dev/shm/azr-{tag}",
               f"/work/azr-{tag}", f"{os.getcwd()}/azr-{tag}", f"/root/azr-{tag}", f"../azr-{tag}"]
    code = f"""
    wrote = []
    for p in {targets!r}:
        try:
            with open(p, 'w') as fh:
                fh.write('x')
            wrote.append(p)
        except OSError:
            pass
    with open('inside', 'w') as fh:
        fh.write('ok')
    """
    res = run(sb, code, "wrote")
    assert res.status == "ok"
    for p in targets:
        assert not os.path.exists(p), p
    # writes to the private /tmp may succeed inside, but never reach the real /tmp
    assert set(eval(res.value)) <= {f"/tmp/azr-{tag}", f"../azr-{tag}"}


def test_runs_as_unprivileged_user(sb):
    need(sb, "unprivileged_user")
    res = run(sb, "import os", "(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())")
    uid, euid, gid, groups = eval(res.value)
    assert uid != 0 and euid != 0 and gid != 0 and 0 not in groups


def test_files_do_not_survive_into_the_next_run(sb):
    run(sb, "open('leftover.txt', 'w').write('secret')\nopen('/tmp/leftover2', 'w').write('x')", replica=0)
    res = run(sb, "import os", "(os.path.exists('leftover.txt'), os.path.exists('/tmp/leftover2'))", replica=0)
    assert res.value == "(False, False)"


# --- isolation between programs -------------------------------------------------------
def test_no_effect_of_one_program_on_the_next(sb):
    poison = """
    import builtins, math, sys, threading, time
    builtins.len = lambda x: 42
    builtins.sorted = None
    math.pi = 3
    sys.modules['json'] = None
    sys.setrecursionlimit(50)
    def spin():
        while True:
            builtins.len = lambda x: 42
            time.sleep(0.001)
    threading.Thread(target=spin, daemon=True).start()
    LEFTOVER = 1
    """
    for _ in range(2):
        assert run(sb, poison, "len([])", replica=0).value == "42"
    for _ in range(4):
        res = run(sb, "import math, json, sys", "(len([1, 2]), math.pi, json.dumps(1), 'LEFTOVER' in globals(), sys.getrecursionlimit() > 50)", replica=0)
        assert res.status == "ok"
        assert res.value == f"(2, {3.141592653589793!r}, '1', False, True)"


# --- output caps and odd exits --------------------------------------------------------
def test_output_size_cap(sb):
    res = run(sb, "x = 'a' * (10 ** 7)", "x")
    assert res.status == "error" and res.error_type == "OutputTooLarge"
    res = run(sb, "raise ValueError('b' * 10 ** 7)")
    assert res.status == "error" and len(res.error_message) <= CFG.max_output_bytes


def test_prints_do_not_matter(sb):
    res = run(sb, "for i in range(10**5): print('spam' * 100)", "1")
    assert res.status == "ok" and res.value == "1"


def test_os_exit(sb):
    res = run(sb, "import os\nos._exit(0)")
    assert res.status == "error" and res.error_type == "Exit"


def test_sys_exit_is_an_error_not_a_pass(sb):
    res = run(sb, "import sys\nsys.exit(0)")
    assert res.status == "error" and res.error_type == "SystemExit"


def test_segfault(sb):
    res = run(sb, "import ctypes\nctypes.string_at(0)")
    assert res.status == "killed" and "SIGSEGV" in res.error_message
    assert run(sb, "x = 1", "x").value == "1"


def test_closed_stdout_and_result_channel(sb):
    res = run(sb, "import os\nos.close(1)\nos.close(2)\nprint('x')", "1")
    assert res.status in ("ok", "error")
    res = run(sb, "import os\nos.closerange(0, 4096)", "1")
    assert res.status == "error"
    assert run(sb, "x = 2", "x").value == "2"


def test_garbage_on_result_channel(sb):
    code = "import os\nfor fd in range(3, 64):\n    try: os.write(fd, b'\\xff garbage')\n    except OSError: pass\nos._exit(0)"
    res = run(sb, code)
    assert res.status == "error"
    assert run(sb, "x = 3", "x").value == "3"


def test_kill_everything_does_not_reach_the_worker(sb):
    res = run(sb, "import os, signal\nos.kill(-1, signal.SIGKILL)\nos.killpg(0, signal.SIGKILL)", "1")
    assert res.status in ("ok", "error", "killed")
    assert run(sb, "x = 4", "x").value == "4"


def test_crashed_worker_is_replaced(sb):
    for w in list(sb._all):
        w.proc.kill()
    res = sb.run([Job("x = 5", "x")] * 4)
    assert [r.value for r in res] == ["5"] * 4


def test_code_data_and_home_directories_are_hidden(sb, tmp_path, monkeypatch):
    need(sb, "mount_namespace")
    here = os.path.abspath(__file__)
    res = run(sb, "import os", f"(os.path.exists({here!r}), os.path.exists('/root/.bashrc'))")
    assert res.value == "(False, False)"
    # the caller's working directory is hidden too (a fresh pool picks up the new cwd)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    monkeypatch.chdir(secret)
    with Sandbox(ExecutorConfig(workers=1)) as s:
        assert str(secret) in s.hidden_paths or any(str(secret).startswith(p + "/") for p in s.hidden_paths) \
            or str(secret).startswith("/tmp/")  # /tmp is a private tmpfs anyway
        res = run(s, "import os", f"os.path.exists({str(secret / 'answers.txt')!r})")
    assert res.value == "False"


def test_stdlib_stays_importable_under_a_hidden_directory(sb):
    res = run(sb, "import zlib, fractions, sqlite3, csv", "zlib.crc32(b'a')")
    assert res.status == "ok" and res.value == "3904355907"
