"""The sandbox: a warm pool of small worker processes that run untrusted Python programs.

Programs are written by a model that may be optimised against the reward, so they may try
anything; the sandbox (not the static checks) is the security boundary. The full threat
model, with what is and is not contained, is in the README ("Threat model"); in short:

- Each worker is a separate, small interpreter (``python -S -s -P``, standard library only,
  minimal environment) started once by ``Sandbox``; it is never forked from the caller, so
  the caller may hold torch, CUDA contexts or threads. As root it lives in a filesystem view
  built from an allowlist (the standard library, shared libraries, four device nodes) and a
  memory cgroup of its own (see ``_worker.py``).
- Each program runs in a fresh child forked from the worker's zygote (a copy of the worker
  made before it received any job, so no other job's text is in the child's memory): PID 1
  of a new PID namespace,
  new mount and IPC namespaces, a private size- and inode-capped tmpfs ``/tmp`` that
  vanishes with it, the worker's network namespace (no interface up), rlimits, an
  unprivileged user, ``PR_SET_NO_NEW_PRIVS`` and a seccomp filter. The worker kills it from
  outside on the wall-clock timeout.
- Results come back as text: the child's report is parsed strictly by the worker, the
  worker's message strictly by the caller (``_check_message``), and values stay ``repr``
  text that callers parse with ``azr.executor.literals`` (never evaluated). Anything
  malformed is that one job's failure.

The user switch, the allowlisted root and the cgroup need root; without root the
namespaces come from an unprivileged user namespace where the kernel allows it (then the
filesystem is remounted read-only except the private /tmp, and the program keeps the
caller's uid). ``Sandbox.protections`` says which protections are active.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from azr.executor.config import ExecutorConfig
from azr.executor.report import parse_report

Status = Literal["ok", "error", "timeout", "memory", "killed"]
STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "memory", "killed")
_WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_GRACE_S = 10.0  # how long past a job's timeout the caller waits before declaring the worker dead


@dataclass(frozen=True)
class Job:
    """One program run: execute ``code`` as a module, then evaluate ``expr`` (if any), or
    call its ``f`` on ``call_args``.

    ``call_args``: text of an ``(args_tuple, kwargs_dict)`` pair of plain values (what
    ``repr`` writes); the worker parses it with the safe parser of ``azr.executor.literals``
    *before* the program runs and reports ``repr(f(*args, **kwargs))``. This is how answers
    reach a program as data, never as code. ``replica``: jobs with different replica numbers run in different worker processes
    (different hash seeds and memory layouts); ``None`` means any worker.
    """

    code: str
    expr: str | None = None
    timeout_s: float | None = None
    replica: int | None = None
    call_args: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str):
            raise TypeError(f"Job.code must be a str, got {type(self.code).__name__}")
        if self.expr is not None and not isinstance(self.expr, str):
            raise TypeError(f"Job.expr must be a str or None, got {type(self.expr).__name__}")
        if self.call_args is not None and (not isinstance(self.call_args, str) or self.expr is not None):
            raise ValueError("Job.call_args must be a str, and cannot be combined with expr")
        if self.timeout_s is not None and not (self.timeout_s > 0 and self.timeout_s < float("inf")):
            raise ValueError(f"Job.timeout_s must be a positive number, got {self.timeout_s}")
        if self.replica is not None and (not isinstance(self.replica, int) or self.replica < 0):
            raise ValueError(f"Job.replica must be a non-negative int or None, got {self.replica}")


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one ``Job``. ``value`` is ``repr(eval(expr))`` (or of the call) when status
    is ``ok``: text written by the program's process, to be parsed, never evaluated."""

    status: Status
    value: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start), not a program."""


class _WorkerProc:
    """Caller-side handle of one worker server process."""

    def __init__(self, config: ExecutorConfig, index: int):
        self.index = index
        env = {
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": str(config.seed * 1000 + index + 1),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-s", "-P", str(_WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # a worker only writes there if it crashes (programs' output goes to /dev/null)
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        extra = [os.getcwd(), os.environ.get("AZR_DATA_DIR", "")]
        self._send({**config.to_dict(), "hide_extra": [d for d in extra if d]})
        hello = self._recv(timeout=60.0)
        if not hello or not hello.get("hello"):
            self.kill()
            raise SandboxError("sandbox worker failed to start")
        self.protections: dict[str, bool] = dict(hello["protections"])
        self.hidden_paths: list[str] = list(hello.get("hidden_paths", []))
        self.visible_paths: list[str] = list(hello.get("visible_paths", []))
        self.cgroup: str | None = hello.get("cgroup")

    def _send(self, obj: dict) -> None:
        data = json.dumps(obj).encode("utf-8")
        self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()

    def _recv(self, timeout: float) -> dict | None:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        head = _read_exact(fd, 4, deadline)
        if head is None:
            return None
        (n,) = struct.unpack(">I", head)
        body = _read_exact(fd, n, deadline)
        return None if body is None else json.loads(body.decode("utf-8"))

    def run(self, job: Job, default_timeout: float, cap: int) -> dict | None:
        """Send one job and wait for its result; ``None`` if the worker died or hung. A
        child's frame is parsed here, strictly: a malformed one is the job's ``BadResult``."""
        timeout = float(job.timeout_s or default_timeout)
        try:
            self._send({"code": job.code, "expr": job.expr, "call_args": job.call_args, "timeout_s": timeout})
            deadline = time.monotonic() + timeout + _GRACE_S
            msg = self._recv(timeout=timeout + _GRACE_S)
            n = msg.get("frame") if isinstance(msg, dict) else None
            if n is None:
                return msg
            if not isinstance(n, int) or not 0 < n <= 4 * cap + 8192:
                return None
            body = _read_exact(self.proc.stdout.fileno(), n, deadline)
            if body is None:
                return None
            want_value = job.expr is not None or job.call_args is not None
            try:
                res = parse_report(body, cap, want_value)
            except (ValueError, IndexError):
                res = {"status": "error", "value": None, "error_type": "BadResult",
                       "error_message": "the program corrupted its result channel"}
            return res | {"duration_s": msg.get("duration_s", 0.0), "retire": msg.get("retire")}
        except (OSError, ValueError, AttributeError):  # UnicodeDecodeError and JSONDecodeError included
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            self._send({"op": "exit"})
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.kill()
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()
            self._remove_cgroup()

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._remove_cgroup()

    def _remove_cgroup(self) -> None:
        """The worker's memory cgroup (empty once the worker is gone)."""
        if self.cgroup and os.path.basename(self.cgroup).startswith("azr-sandbox-"):
            for _ in range(20):
                try:
                    os.rmdir(self.cgroup)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            self.cgroup = None


def _read_exact(fd: int, n: int, deadline: float) -> bytes | None:
    import select

    chunks, got = [], 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        b = os.read(fd, n - got)
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


class Sandbox:
    """A warm pool of sandbox workers. Thread-safe; use as a context manager or ``close()``.

    ``run(jobs)`` runs the jobs concurrently on ``config.workers`` workers and returns one
    ``ExecResult`` per job, in order. A worker that dies is replaced transparently (its job
    is retried once on a fresh worker, then reported as ``killed``).
    """

    def __init__(self, config: ExecutorConfig | None = None):
        self.config = config or ExecutorConfig()
        self._owner_pid = os.getpid()
        n_procs = max(2, self.config.workers)
        self._lock = threading.Lock()
        self._closed = False
        self._slots = threading.Semaphore(self.config.workers)
        self._cond = threading.Condition()
        self._idle: list[_WorkerProc] = []
        self._all: list[_WorkerProc] = []
        try:
            for i in range(n_procs):
                w = _WorkerProc(self.config, i)
                self._all.append(w)
                self._idle.append(w)
        except BaseException:
            self.close()
            raise
        self.protections: dict[str, bool] = dict(self._all[0].protections)
        #: Directories programs see as empty (mount isolation): hide_paths, the caller's working
        #: and data directories, private directories such as /root.
        self.hidden_paths: list[str] = list(self._all[0].hidden_paths)
        #: With the allowlisted root (root only): the host paths programs can see (read-only).
        self.visible_paths: list[str] = list(self._all[0].visible_paths)

    # -- context management --------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers, self._all = list(self._all), []
        if os.getpid() != self._owner_pid:
            return  # a forked copy: the workers belong to the parent, leave them alone
        with self._cond:
            self._cond.notify_all()
        for w in workers:
            w.close()

    def __del__(self) -> None:  # best effort; close() is the contract
        try:
            self.close()
        except Exception:
            pass

    # -- running -------------------------------------------------------------------
    def run(self, jobs: Sequence[Job]) -> list[ExecResult]:
        """Run ``jobs`` concurrently; results in the same order."""
        jobs = list(jobs)
        for j in jobs:
            if not isinstance(j, Job):
                raise TypeError(f"expected Job, got {type(j).__name__}")
        if self._closed:
            raise SandboxError("sandbox is closed")
        if os.getpid() != self._owner_pid:
            raise SandboxError("this Sandbox was created in another process (fork); create a new one here")
        results: list[ExecResult | None] = [None] * len(jobs)
        errors: list[BaseException] = []
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            todo.put(i)

        def drain() -> None:
            while not errors:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = self._run_one(jobs[i])
                except BaseException as e:  # surfaced in the calling thread below
                    errors.append(e)

        n_threads = min(self.config.workers, len(jobs))
        threads = [threading.Thread(target=drain, daemon=True) for _ in range(n_threads - 1)]
        for t in threads:
            t.start()
        drain()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def run_one(self, job: Job) -> ExecResult:
        return self.run([job])[0]

    def _run_one(self, job: Job) -> ExecResult:
        t0 = time.monotonic()
        with self._slots:
            for _ in range(2):
                w = self._acquire(job.replica)
                cap = self.config.max_output_bytes
                res = _check_message(w.run(job, self.config.timeout_s, cap), cap)
                if res is not None:
                    if res[1]:  # the worker could not clean up after this job: start a fresh one
                        self._replace(w)
                    else:
                        self._release(w)
                    return res[0]
                self._replace(w)
        return ExecResult("killed", None, "WorkerDied", "the sandbox worker died twice running this job",
                          time.monotonic() - t0)

    def _acquire(self, replica: int | None) -> _WorkerProc:
        def pick() -> _WorkerProc | None:
            for w in self._idle:
                if replica is None or w.index % 2 == replica % 2:
                    return w
            return None

        def exists() -> bool:
            return any(replica is None or w.index % 2 == replica % 2 for w in self._all)

        with self._cond:
            self._cond.wait_for(lambda: pick() is not None or self._closed or not exists())
            if self._closed:
                raise SandboxError("sandbox is closed")
            if not exists():
                raise SandboxError("no sandbox worker left for this job (a replacement failed to start)")
            w = pick()
            self._idle.remove(w)
            return w

    def _release(self, w: _WorkerProc) -> None:
        with self._cond:
            self._idle.append(w)
            self._cond.notify_all()

    def _replace(self, dead: _WorkerProc) -> None:
        dead.kill()
        if self._closed:
            raise SandboxError("sandbox is closed")
        try:
            fresh = _WorkerProc(self.config, dead.index)
        except BaseException:
            with self._cond:
                self._all = [w for w in self._all if w is not dead]
                self._cond.notify_all()
            raise
        with self._lock:
            self._all = [fresh if w is dead else w for w in self._all]
        self._release(fresh)


def _check_message(msg: object, cap: int) -> tuple[ExecResult, bool] | None:
    """A worker's result message as ``(ExecResult, retire)``; ``None`` if it is missing or
    malformed (the worker is then treated as dead: replaced, and the job retried once)."""
    if not isinstance(msg, dict) or msg.get("status") not in STATUSES:
        return None
    fields = [msg.get(k) for k in ("value", "error_type", "error_message")]
    if not all(f is None or (isinstance(f, str) and len(f) <= 4 * cap + 1000) for f in fields):
        return None
    dur = msg.get("duration_s", 0.0)
    if not isinstance(dur, (int, float)) or isinstance(dur, bool) or not 0 <= dur < 1e7:
        return None
    return ExecResult(msg["status"], *fields, duration_s=float(dur)), bool(msg.get("retire") is True)
