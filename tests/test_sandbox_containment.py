"""Attacks on the reward channel and on isolation, through the public paths only.

Every attack runs through ``azr tasks validate|verify`` (the CLI) or the trainer's
environment (``azr.selfplay.env.CodeEnv``), inside a batch that also holds good programs or
answers, and the test asserts both the contained outcome and the good results. Programs
get past the static checks (a reward filter, not a boundary) with ``ESCAPE``: computed
attribute names through ``operator.attrgetter`` reach ``os``, ``sys`` and ``__import__``.
Protections that need root are skipped with a message where they are not active.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from azr.cli import main
from azr.executor import ExecutorConfig, Sandbox
from azr.executor.checks import check_program
from azr.selfplay.env import CodeEnv
from azr.tasks.parsing import ProposalParse
from azr.tasks.types import TaskType, Triplet

ROOT = Path(__file__).resolve().parents[1]

ESCAPE = textwrap.dedent("""\
    import operator

    def _get(o, *names):
        for n in names:
            o = operator.attrgetter(n)(o)
        return o

    _U = '_' * 2
    for _c in _get((), _U + 'class' + _U, _U + 'base' + _U, _U + 'subclasses' + _U)():
        if _c.__name__ == '_wrap_close':
            SYS = _get(_c, _U + 'init' + _U, _U + 'globals' + _U)['sys']
    OS = SYS.modules['os']
    IMPORT = _get(SYS.modules['builtins'], _U + 'import' + _U)
    OPEN = _get(SYS.modules['builtins'], 'open')
    """)

GOOD = [("def f(x):\n    return x * 2", "21", "42"), ("def f(s):\n    return s[::-1]", "'abc'", "'cba'"),
        ("def f(a, b):\n    return sorted(a)[b]", "[3, 1, 2], 1", "2")]


def evil(body: str, f: str = "def f(x):\n    return RESULT") -> str:
    """A program that runs ``body`` (with ESCAPE's names) at import, then defines ``f``."""
    prog = ESCAPE + textwrap.dedent(body) + "\n" + f + "\n"
    assert check_program(prog).ok, check_program(prog)  # the static checks do not stop it
    return prog


@pytest.fixture(scope="module")
def sb():
    with Sandbox(ExecutorConfig(workers=2, timeout_s=3.0, memory_mb=256)) as s:
        yield s


@pytest.fixture(scope="module")
def env(sb):
    return CodeEnv(sb)


def need(sb: Sandbox, prot: str) -> None:
    if not sb.protections.get(prot):
        pytest.skip(f"protection {prot!r} is not active here (needs root / kernel support)")


def env_validate(env: CodeEnv, programs: list[tuple[str, str]]) -> list[tuple[object, str]]:
    items = [(TaskType.DEDUCTION, ProposalParse(True, program=p, input=i), None) for p, i in programs]
    return env.validate_proposals(items, n_inputs=1, min_pairs=1)


def assert_good(results, offset: int) -> None:
    """The GOOD programs, validated after ``offset`` attack items, kept their right outputs."""
    for (task, reason), (_, _, out) in zip(results[offset:], GOOD):
        assert task is not None and task.output == out, reason


def cli(tmp_path: Path, action: str, records: list, *extra: str) -> tuple[int, list[dict], str]:
    """Run ``azr tasks <action>`` in a fresh interpreter; check every output line is UTF-8 JSON."""
    path = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    with open(path, "wb") as fh:
        for r in records:
            fh.write(r if isinstance(r, bytes) else json.dumps(r).encode() + b"\n")
    proc = subprocess.run([sys.executable, "-m", "azr", "tasks", action, str(path), "--timeout", "3", *extra],
                          cwd=ROOT, capture_output=True, timeout=300)
    text = proc.stdout.decode("utf-8")  # strict: raises on invalid UTF-8
    rows = [json.loads(line) for line in text.splitlines()]
    return proc.returncode, rows, proc.stderr.decode("utf-8", "replace")


def good_records(kind: str = "deduction") -> list[dict]:
    return [{"id": f"good{k}", "type": kind, "program": p, "input": i} for k, (p, i, _) in enumerate(GOOD)]


def assert_good_rows(rows: list[dict]) -> None:
    good = {r["id"]: r for r in rows if isinstance(r.get("id"), str) and r["id"].startswith("good")}
    assert [good[f"good{k}"]["output"] for k in range(len(GOOD))] == [o for _, _, o in GOOD]


# --- property 1: answers are data ------------------------------------------------------
FORGE_FRAME = "b'AZR\\x01\\x01\\x01' + (3).to_bytes(4, 'big') + b'999' + b'\\x00\\x00'"


def test_abduction_answers_are_data_and_cannot_forge_a_grade(env, tmp_path):
    prog = "def f(x):\n    return x % 7"
    task = Triplet(prog, "1000", "6")
    forgers = [  # each would write a well-formed "ok, 6" record and exit if it ran as code
        f"__import__('os').write(3, b'AZR\\x01\\x01\\x01' + (1).to_bytes(4, 'big') + b'6\\x00\\x00') or __import__('os')._exit(0)",
        "[SYS.modules['os']._exit(0) for SYS in [operator]]",
        "(lambda: 6)()",
        "6 if True else 0",
        "x",
        "f(6)",
    ]
    answers = ["6", "13", "Fraction(20, 1)", "7"] + forgers
    res = env.verify(TaskType.ABDUCTION, [task] * len(answers), answers)
    assert res[:4] == [(True, "correct"), (True, "correct"), (True, "correct"), (False, "wrong_value")]
    assert all(r == (False, "answer_not_literal") for r in res[4:]), res[4:]
    # a string holding a forged record is just a string argument
    assert env.verify(TaskType.ABDUCTION, [Triplet("def f(x):\n    return x", "1", "6")], [repr(FORGE_FRAME)])[0][0] is False
    # the same through the CLI
    recs = [{"id": k, "type": "abduction", "program": prog, "output": "6", "answer": a} for k, a in enumerate(answers)]
    code, rows, _ = cli(tmp_path, "verify", recs)
    assert code == 0 and [r["correct"] for r in rows] == [True, True, True, False] + [False] * len(forgers)
    assert all(r["reason"] == "answer_not_literal" for r in rows[4:])


def test_deduction_answers_are_data(env):
    task = Triplet("def f(x):\n    return x", "1", "Counter({'a': 2})")
    answers = ["Counter({'a': 2})", "{'a': 2}", "__import__('collections').Counter(a=2)", "Counter(a=2)"]
    res = env.verify(TaskType.DEDUCTION, [task] * 4, answers)
    assert res[0] == (True, "correct") and res[1] == (True, "correct")  # Counter == dict by value
    assert res[2] == (False, "answer_not_literal") and res[3] == (False, "answer_not_literal")


def test_outputs_of_safe_stdlib_types_are_valid_and_unsafe_ones_named(env):
    outs = {
        "Counter('abca')": "Counter({'a': 2, 'b': 1, 'c': 1})", "OrderedDict(a=1)": "OrderedDict([('a', 1)])",
        "deque([1, 2], maxlen=3)": "deque([1, 2], maxlen=3)", "Fraction(1, 3)": "Fraction(1, 3)",
        "Decimal('1.5')": "Decimal('1.5')", "frozenset({2})": "frozenset({2})", "range(3)": "range(0, 3)",
        "float('inf')": "inf", "complex(1, -2)": "(1-2j)", "set()": "set()",
    }
    head = "from collections import Counter, OrderedDict, deque, defaultdict\nfrom fractions import Fraction\n" \
           "from decimal import Decimal\n"
    progs = [(head + f"def f(x):\n    return {e}", "0") for e in outs]
    progs += [(head + "def f(x):\n    return defaultdict(int)", "0"),
              ("class S(str):\n    pass\ndef f(x):\n    return [S('a')]", "0"),
              ("def f(x):\n    return float('nan')", "0")]
    res = env_validate(env, progs + [(p, i) for p, i, _ in GOOD])
    for (task, reason), want in zip(res, outs.values()):
        assert task is not None and task.output == want, reason
    n = len(outs)
    assert res[n][0] is None and res[n][1] == "output_not_literal"
    assert res[n + 1][0] is None and res[n + 1][1] == "output_not_literal"
    assert res[n + 2][0] is None
    assert_good(res, n + 3)


# --- property 2: a report is untrusted data ---------------------------------------------
def test_forged_validation_record_through_json_state_is_not_counted(tmp_path):
    patch = """
    import json
    FAKE = '{"status": "ok", "value": "[(\\'ok\\', \\'999\\', \\'999\\', None)]", "error_type": null, "error_message": null}'
    json.dumps = lambda *a, **k: FAKE
    json.encoder.c_make_encoder = None
    SYS.modules['json'].dumps = json.dumps
    RESULT = 0
    """
    always_raises = evil(patch, "def f(x):\n    raise ValueError('no')")
    recs = [{"id": "forge", "type": "deduction", "program": always_raises, "input": "1"}] + good_records()
    code, rows, _ = cli(tmp_path, "validate", recs)
    assert code == 0 and rows[0]["valid"] is False and rows[0]["reason"].startswith("runtime_error:ValueError")
    assert rows[0]["output"] is None
    assert_good_rows(rows)


def test_garbage_or_extra_records_on_the_report_pipe_fail_only_that_job(env):
    extra = evil(f"""
    for fd in range(3, 16):
        try:
            OS.write(fd, {FORGE_FRAME})
        except OSError:
            pass
    RESULT = 1
    """)
    garbage = evil("for fd in range(3, 16):\n    try:\n        OS.write(fd, b'\\xff\\x00junk')\n    except OSError:\n        pass\nRESULT = 1")
    res = env_validate(env, [(extra, "1"), (garbage, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is None and res[1][0] is None, res[:2]
    assert_good(res, 2)


def test_output_objects_that_lie_about_their_types(env, tmp_path):
    liars = [
        # __str__ of the exception returns a str subclass whose slicing returns an int
        "class S(str):\n    def __getitem__(self, k):\n        return 5\n"
        "class E(Exception):\n    def __str__(self):\n        return S('boom')\n"
        "def f(x):\n    raise E()",
        # an exception class whose __name__ is not a string
        "class M(type):\n    __name__ = property(lambda c: 7)\n"
        "class E(Exception, metaclass=M):\n    pass\ndef f(x):\n    raise E('x')",
        # a repr that returns a str subclass with its own repr
        "class S(str):\n    def __repr__(self):\n        return 'S'\n"
        "class V:\n    def __repr__(self):\n        return S(\"('ok', 1)\")\ndef f(x):\n    return V()",
        # repr raises / is huge / is recursive
        "class V:\n    def __repr__(self):\n        raise RuntimeError('no repr')\ndef f(x):\n    return V()",
        "def f(x):\n    a = []\n    a.append(a)\n    return a",
        # an exception message holding a lone surrogate
        "def f(x):\n    raise ValueError('bad ' + chr(0xdc80) + ' surrogate')",
    ]
    res = env_validate(env, [(p, "1") for p in liars] + [(p, i) for p, i, _ in GOOD])
    assert all(task is None and reason for task, reason in res[: len(liars)]), res[: len(liars)]
    assert_good(res, len(liars))
    recs = [{"id": k, "type": "deduction", "program": p, "input": "1"} for k, p in enumerate(liars)] + good_records()
    code, rows, _ = cli(tmp_path, "validate", recs)
    assert code == 0 and len(rows) == len(recs)
    assert [r["valid"] for r in rows[: len(liars)]] == [False] * len(liars)
    assert "\ufffd" in rows[len(liars) - 1]["reason"] or "\\udc80" in rows[len(liars) - 1]["reason"]
    assert_good_rows(rows)


# --- property 3: nothing crosses between programs, nothing outlives one -----------------
def test_temp_dir_junk_never_poisons_a_worker(env):
    junk = evil("""
    base = OS.getcwd()
    OS.mkfifo('fifo')
    for i in range(3):
        OS.mkdir(f'locked{i}')
        OPEN(f'locked{i}/f', 'w').write('x')
        OS.chmod(f'locked{i}', 0)
    try:
        for i in range(3000):
            OS.mkdir('d')
            OS.chdir('d')
    except OSError:
        pass
    OS.chdir(base)
    OS.symlink('/', 'rootlink')
    RESULT = 1
    """)
    check = evil("RESULT = sorted(OS.listdir('.'))")
    for _ in range(2):  # twice: every worker process runs the junk program, then the check
        res = env_validate(env, [(junk, "1"), (junk, "2")] + [(p, i) for p, i, _ in GOOD])
        assert res[0][0] is not None and res[1][0] is not None, res[:2]
        assert_good(res, 2)
        res = env_validate(env, [(check, "1"), (check, "2")] + [(p, i) for p, i, _ in GOOD])
        assert [t.output for t, _ in res[:2]] == ["[]", "[]"]
        assert_good(res, 2)


def test_shared_memory_message_queues_and_keyrings_do_not_cross(env, sb):
    need(sb, "ipc_namespace")
    key = 0x5A000000 + os.getpid() % 0xFFFF
    writer = evil(f"""
    ctypes = IMPORT('ctypes')
    libc = ctypes.CDLL(None, use_errno=True)
    shm = libc.shmget({key}, 4096, 0o1000 | 0o666)
    keyring = libc.syscall(248, b'user', b'azr-secret', b'gold=42', 7, -3)  # add_key
    RESULT = (shm >= 0, keyring == -1)
    """)
    reader = evil(f"""
    ctypes = IMPORT('ctypes')
    libc = ctypes.CDLL(None, use_errno=True)
    found = libc.shmget({key}, 0, 0)
    key_found = libc.syscall(249, b'user', b'azr-secret', None, 0)  # request_key
    RESULT = (found >= 0, key_found >= 0)
    """)
    res = env_validate(env, [(writer, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is not None and res[0][0].output == "(True, True)", res[0]  # created; keyring refused
    assert_good(res, 1)
    res = env_validate(env, [(reader, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is not None and res[0][0].output == "(False, False)", res[0]
    assert_good(res, 1)
    # and nothing is left on the host either
    out = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout if _has("ipcs") else ""
    assert f"{key:#010x}" not in out


def _has(tool: str) -> bool:
    from shutil import which

    return which(tool) is not None


def test_memfd_and_tmpfs_pages_count_against_the_memory_limit(env, sb):
    need(sb, "memory_cgroup")
    hog = evil("""
    fds = []
    for i in range(60):
        fd = OS.memfd_create('x')
        for j in range(16):
            OS.write(fd, b'x' * 2 ** 20)
        fds.append(fd)
    RESULT = len(fds)
    """)
    res = env_validate(env, [(hog, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is None and res[0][1] in ("memory_limit", "killed"), res[0]
    assert_good(res, 1)


def test_file_count_is_bounded(env, sb):
    need(sb, "allowlisted_root")
    many = evil("""
    n = 0
    try:
        while n < 100000:
            OPEN(f'f{n}', 'w').close()
            n += 1
    except OSError:
        pass
    RESULT = n < 100000
    """)
    res = env_validate(env, [(many, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is not None and res[0][0].output == "True", res[0]
    assert_good(res, 1)


# --- property 4: an allowlisted filesystem view -----------------------------------------
def test_only_the_allowlisted_host_paths_are_visible(env, sb, tmp_path):
    need(sb, "allowlisted_root")
    sock_dir = Path("/run") / f"azr-test-{uuid.uuid4().hex[:8]}"
    sock_dir.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(sock_dir / "s.sock"))
        server.listen(1)
        data_dir = os.environ.get("AZR_DATA_DIR", "/work")
        probe = evil(f"""
        seen = {{}}
        for p in ['/var', '/work', '/home', '/run', '/srv', '/opt', '/etc/passwd', {os.getcwd()!r}, {data_dir!r},
                  {str(sock_dir)!r}, '/proc/1/environ', '/sys/fs/cgroup']:
            seen[p] = OS.path.exists(p)
        socket = IMPORT('socket')
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect({str(sock_dir / 's.sock')!r})
            conn = 'connected'
        except OSError as e:
            conn = 'refused'
        ctypes = IMPORT('ctypes')
        libc = ctypes.CDLL(None, use_errno=True)
        SYS.path.extend({[p for p in sys.path if 'site-packages' in p]!r} + ['/usr/lib/python3/dist-packages'])
        try:
            IMPORT('pytest')
            third = 'imported'
        except ImportError:
            third = 'absent'
        RESULT = (any(seen.values()), conn, third, libc.prctl(39, 0, 0, 0, 0), sorted(OS.listdir('/')))
        """)
        res = env_validate(env, [(probe, "1")] + [(p, i) for p, i, _ in GOOD])
    finally:
        server.close()
        (sock_dir / "s.sock").unlink(missing_ok=True)
        sock_dir.rmdir()
    task, reason = res[0]
    assert task is not None, reason
    visible, conn, third, nnp, top = eval(task.output)  # our own test's output: a tuple of literals
    assert (visible, conn, third, nnp) == (False, "refused", "absent", 1)
    assert set(top) <= {"dev", "etc", "lib", "lib64", "lib32", "libx32", "usr", "tmp", "root", "opt", "home"}
    assert_good(res, 1)


def test_writes_land_nowhere(env, sb):
    need(sb, "allowlisted_root")
    tag = uuid.uuid4().hex
    w = evil(f"""
    wrote = []
    for p in ['/x-{tag}', '/usr/x-{tag}', '/etc/x-{tag}', '/dev/x-{tag}', {sys.prefix!r} + '/x-{tag}']:
        try:
            OPEN(p, 'w').write('x')
            wrote.append(p)
        except OSError:
            pass
    RESULT = wrote
    """)
    res = env_validate(env, [(w, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is not None and res[0][0].output == "[]", res[0]
    assert not any(Path(p).exists() for p in (f"/x-{tag}", f"/usr/x-{tag}", f"{sys.prefix}/x-{tag}"))
    assert_good(res, 1)


# --- property 5: the CLIs never crash on a record ----------------------------------------
def test_cli_gives_one_valid_json_row_per_line_whatever_it_reads(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    recs = good_records()[:1] + [
        b"{not json\n",
        deep,
        b'{"id": ' + b"9" * 5000 + b', "type": "deduction", "program": "def f(x):\\n    return x", "input": "1"}\n',
        b'{"id": "\\udc80", "type": "deduction", "program": "def f(x):\\n    return x", "input": "\\ud800"}\n',
        b'{"id": NaN, "type": "deduction", "program": "def f(x):\\n    return x", "input": "1"}\n',
        b"\xff\xfe not utf-8\n",
        b"\n",
        b'{"id": 1, "type": ["deduction"], "program": "x", "input": "1"}\n',
        {"id": "surrogate-error", "type": "deduction", "input": "1",
         "program": "def f(x):\n    raise ValueError(chr(0xdc80) * 3)"},
        {"id": "deep-input", "type": "deduction", "program": "def f(x):\n    return 1", "input": "[" * 300 + "]" * 300},
        {"id": "huge-int-input", "type": "deduction", "program": "def f(x):\n    return 1", "input": "9" * 5000},
        {"id": "prints-rows", "type": "deduction", "input": "1",  # stdout/stderr go nowhere
         "program": "print('{\"id\": \"good0\", \"valid\": true}')\ndef f(x):\n    print('{}')\n    return 1"},
    ] + good_records()[1:]
    code, rows, err = cli(tmp_path, "validate", recs)
    assert code == 0 and len(rows) == len(recs)
    assert all(r["valid"] is False for r in rows[1:-3])
    assert rows[-3]["id"] == "prints-rows" and rows[-3]["output"] == "1"
    assert [r.get("line") for r in rows[1:9]] == [2, 3, 4, None, 6, 7, 8, 9]  # row 5 is a record (bad input)
    assert "nested too deeply" in rows[2]["reason"] and "not UTF-8" in rows[6]["reason"]
    assert rows[4]["id"] == "\ufffd"  # lone surrogates never reach the output
    assert_good_rows(rows)
    code, rows, _ = cli(tmp_path, "verify", [b"[[[" * 50_000 + b"\n",
                                            {"id": 1, "type": "deduction", "output": "1", "answer": "1"}])
    assert code == 0 and rows[0]["correct"] is False and rows[1]["correct"] is True
    code, rows, _ = cli(tmp_path, "verify", [b'{"id": "' + b"x" * 4_100_000 + b'"}\n',
                                            {"id": 2, "type": "deduction", "output": "1", "answer": "2"}])
    assert code == 0 and "line longer" in rows[0]["reason"] and rows[1]["reason"] == "wrong_value"
    code, _, err = cli(tmp_path, "verify", [])
    assert code == 0
    missing = subprocess.run([sys.executable, "-m", "azr", "tasks", "verify", str(tmp_path / "nope.jsonl")],
                             cwd=ROOT, capture_output=True, timeout=120)
    assert missing.returncode == 2 and b"cannot read" in missing.stderr


def _memory_holds(pid: int, needle: bytes) -> bool:
    """Does the (live) process ``pid`` hold ``needle`` anywhere in its readable memory?"""
    with open(f"/proc/{pid}/maps") as fh:
        regions = [line.split() for line in fh]
    found = False
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for r in regions:
            if "r" not in r[1] or (len(r) > 5 and r[5].startswith("[v")):
                continue
            start, end = (int(x, 16) for x in r[0].split("-"))
            try:
                mem.seek(start)
                found = found or needle in mem.read(end - start)
            except (OSError, OverflowError, ValueError):
                pass
    return found


def test_no_output_stays_in_the_worker_for_a_later_program_to_find(env, sb):
    need(sb, "allowlisted_root")
    if os.geteuid() != 0:
        pytest.skip("reading a worker's memory needs root")
    tag = uuid.uuid4().hex
    secret = f"HIDDEN-{tag}".upper()  # produced at run time: the program's source never holds it
    prog = f"def f(x):\n    return 'hidden-'.upper() + {tag!r}.upper() + str(x)"
    res = env_validate(env, [(prog, "1")] + [(p, i) for p, i, _ in GOOD])
    assert res[0][0] is not None and res[0][0].output == repr(secret + "1")
    assert_good(res, 1)
    assert not any(_memory_holds(w.proc.pid, (secret + "1").encode()) for w in sb._all)
    assert _memory_holds(os.getpid(), (secret + "1").encode())  # the scan itself works: the caller has it


def _children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rfind(b")") + 2 :].split()[1]) == pid:
                out.append(int(name))
    return out


def test_programs_start_from_a_process_that_never_saw_another_job(env, sb):
    need(sb, "clean_fork_parent")
    if os.geteuid() != 0:
        pytest.skip("reading a zygote's memory needs root")
    tag = uuid.uuid4().hex
    solver = f"def f(x):\n    # another rollout's answer {tag}\n    return x + 1"
    res = env.verify(TaskType.INDUCTION, [_induction_task()], [solver])
    assert res == [(True, "correct")]
    zygotes = [z for w in sb._all for z in _children(w.proc.pid)]
    assert len(zygotes) == len(sb._all)
    assert not any(_memory_holds(z, tag.encode()) for z in zygotes)


def _induction_task():
    from azr.tasks.types import InductionTask

    return InductionTask(program="def f(x):\n    return x + 1", pairs=(("1", "2"), ("2", "3"), ("5", "6")),
                         message="add one", n_visible=1)
