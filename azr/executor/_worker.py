"""Sandbox worker server: a small, clean interpreter that forks one child per program.

This file is run as a *script* by ``azr.executor.sandbox`` (``python -S -s -P _worker.py``,
with a minimal environment) and imports only the standard library. It is never imported
by the trainer. Protocol over its stdin/stdout (moved to private descriptors at start):
each message is a 4-byte big-endian length followed by UTF-8 JSON.

  caller -> worker   first: settings (ExecutorConfig.to_dict()); then one job per message
                     ``{"code", "expr", "timeout_s"}``; ``{"op": "exit"}`` stops the worker.
  worker -> caller   first: ``{"hello": true, "protections": {...}}``; then one result per job
                     ``{"status", "value", "error_type", "error_message", "duration_s"}``.

Per program: ``unshare(CLONE_NEWPID)`` then ``fork`` (the child is PID 1 of a fresh PID
namespace, so every process it starts dies with it), new session, new mount namespace with
a private tmpfs /tmp, rlimits, setuid to an unprivileged user, and a wall-clock timer run
by this worker, which SIGKILLs the child from outside. Without root, the worker first enters
an unprivileged user namespace (where allowed) and forks twice per program (it cannot
``setns`` back), remounting the filesystem read-only instead of switching users. Each step
is used only where the start-up probe found it working; ``protections`` says which are
active.
"""

import ctypes
import errno
import json
import os
import pwd
import resource
import select
import signal
import struct
import sys
import tempfile
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
WORLD_WRITABLE_CANDIDATES = ("/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run/shm", "/dev/mqueue", "/var/crash")
_LIBC = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_LIBC.unshare(ctypes.c_int(flags)), "unshare")


def _setns(fd: int, flags: int) -> None:
    _check(_LIBC.setns(ctypes.c_int(fd), ctypes.c_int(flags)), "setns")


def _mount(src: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_LIBC.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _prctl(option: int, arg: int) -> None:
    _check(_LIBC.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), 0, 0, 0), "prctl")


# ----------------------------------------------------------------------------- framing
def read_msg(fd: int):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    body = _read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def _read_exact(fd: int, n: int):
    chunks, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def write_msg(fd: int, obj) -> None:
    data = json.dumps(obj).encode("utf-8")
    _write_all(fd, struct.pack(">I", len(data)) + data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# ----------------------------------------------------------------------------- worker
class Worker:
    def __init__(self, settings: dict, in_fd: int, out_fd: int):
        self.s = settings
        self.in_fd, self.out_fd = in_fd, out_fd
        self.root = os.geteuid() == 0
        self.uid = self.gid = None
        self.pidns_fd = None
        self.prot = {"root": self.root}
        self.hidden: list = []
        self._setup()

    # -- start-up: decide which protections work here --------------------------------
    def _setup(self) -> None:
        s, prot = self.s, self.prot
        for name in s.get("preimport", ()):
            try:
                __import__(name)
            except Exception:
                pass
        import gc

        gc.collect()
        gc.freeze()  # keep the pre-imported objects out of the children's collections (less copy-on-write)
        try:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            prot["subreaper"] = True
        except OSError:
            prot["subreaper"] = False
        if s["drop_privileges"] and self.root:
            try:
                pw = pwd.getpwnam(s["run_as_user"])
                self.uid, self.gid = pw.pw_uid, pw.pw_gid
            except KeyError:
                pass
        prot["unprivileged_user"] = (not self.root) or self.uid is not None
        prot["user_namespace"] = False
        wants_ns = s["isolate_network"] or s["isolate_pids"] or s["isolate_mounts"]
        if not self.root and wants_ns and s.get("user_namespace", True):
            prot["user_namespace"] = _enter_user_namespace()
        admin = self.root or prot["user_namespace"]
        prot["network_namespace"] = False
        if s["isolate_network"] and admin:
            try:
                _unshare(CLONE_NEWNET)
                prot["network_namespace"] = True
            except OSError:
                pass
        prot["pid_namespace"] = False
        self.pid_double_fork = False
        if s["isolate_pids"] and self.root:
            try:  # unshare, fork, then setns back: one fork per program
                self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
                _unshare(CLONE_NEWPID)
                _setns(self.pidns_fd, CLONE_NEWPID)
                prot["pid_namespace"] = True
            except OSError:
                self.pidns_fd = None
        elif s["isolate_pids"] and admin:  # user namespace: cannot setns back, fork twice instead
            self.pid_double_fork = prot["pid_namespace"] = _probe_pid_namespace()
        prot["mount_namespace"] = False
        if s["isolate_mounts"] and admin:
            try:
                self._setup_mounts()
                if not self.root:
                    prot["read_only_filesystem"] = _remount_read_only(skip=self.hidden)
                prot["mount_namespace"] = True
            except OSError:
                pass
        if prot["mount_namespace"]:
            self.tmp_root = "/tmp"
        else:
            self.tmp_root = tempfile.mkdtemp(prefix="azr-sbx-")
            os.chmod(self.tmp_root, 0o711)
        self.rundir = os.path.join(self.tmp_root, "run")
        prot["rlimits"] = True
        prot["wall_clock_kill"] = True
        prot["new_session"] = True

    def _setup_mounts(self) -> None:
        """Once per worker: a private mount namespace with a fresh size-capped tmpfs on /tmp,
        read-only empty masks over the other world-writable directories and over the hidden
        directories (``hide_paths``, the caller's working and data directories, and any
        directory the unprivileged user cannot traverse, such as /root). Import directories
        of the Python installation that sit under a hidden directory are bound back read-only."""
        tops = _hidden_tops(list(self.s.get("hide_paths", ())) + list(self.s.get("hide_extra", ())),
                            sys.path, check_traverse=self.uid is not None)
        imports = _minimal([os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)])
        expose = [p for p in imports if any(_under(p, t) for t in tops)]
        _unshare(CLONE_NEWNS)
        _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in expose}
        size_kb = int(self.s["max_file_mb"]) * 1024
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_kb}k,mode=1777")
        for d in WORLD_WRITABLE_CANDIDATES:
            if _world_writable(d):
                _mount("tmpfs", d, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=755")
        for top in tops:
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for p in expose:
            os.makedirs(p, exist_ok=True)
            _mount(f"/proc/self/fd/{keep[p]}", p, None, MS_BIND | MS_REC, None)
            _mount("none", p, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        for top in tops:
            _mount("none", top, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        for fd in keep.values():
            os.close(fd)
        self.hidden = tops

    def serve(self) -> None:
        write_msg(self.out_fd, {"hello": True, "protections": self.prot, "hidden_paths": self.hidden,
                                "pid": os.getpid()})
        while True:
            msg = read_msg(self.in_fd)
            if msg is None or msg.get("op") == "exit":
                break
            try:
                result = self.run_job(msg)
            except Exception as e:  # a sandbox fault, not the program's: report it, keep serving
                result = _result("killed", None, "SandboxError", f"{type(e).__name__}: {e}") | {"duration_s": 0.0}
            write_msg(self.out_fd, result)
        if not self.prot["mount_namespace"]:
            import shutil

            shutil.rmtree(self.tmp_root, ignore_errors=True)

    # -- one program ------------------------------------------------------------------
    def run_job(self, job: dict) -> dict:
        timeout = float(job.get("timeout_s") or self.s["timeout_s"])
        cap = int(self.s["max_output_bytes"])
        rundir = self.rundir
        os.mkdir(rundir, 0o700)
        if self.uid is not None:
            os.chown(rundir, self.uid, self.gid)
        r, w = os.pipe()
        t0 = time.monotonic()
        if self.pidns_fd is not None:
            _unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(r)
            if self.pid_double_fork:
                _pid1_parent(self, job, w, rundir, timeout)
            _child(self, job, w, rundir, timeout)
        if self.pidns_fd is not None:
            _setns(self.pidns_fd, CLONE_NEWPID)
        if pid < 0:
            os.close(r)
            os.close(w)
            return _result("error", None, "SandboxSetupError", "fork failed") | {"duration_s": 0.0}
        os.close(w)
        try:
            result = self._supervise(pid, r, t0, timeout, cap)
        finally:
            os.close(r)
            self._cleanup(pid)
            self._clean_tmp()
        result["duration_s"] = round(time.monotonic() - t0, 6)
        return result

    def _supervise(self, pid: int, r: int, t0: float, timeout: float, cap: int) -> dict:
        pidfd = os.pidfd_open(pid)
        buf, eof, exited, timed_out, too_big = bytearray(), False, False, False, False
        limit = 2 * cap + 8192  # JSON escaping may double the repr
        try:
            while True:
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([pidfd] + ([] if eof else [r]), [], [], left)
                if r in ready:
                    chunk = os.read(r, 65536)
                    eof = not chunk
                    buf += chunk
                    if len(buf) > limit:
                        too_big = True
                        break
                if pidfd in ready:
                    exited = True
                    too_big = not _drain(r, buf, limit)
                    break
        finally:
            os.close(pidfd)
        if timed_out or too_big or not exited:
            _kill_tree(pid)
        _, status = os.waitpid(pid, 0)
        if timed_out:
            return _result("timeout", None, "Timeout", f"wall-clock limit of {timeout:g} s exceeded")
        if too_big:
            return _result("error", None, "OutputTooLarge", f"result exceeds {cap} bytes")
        if buf:
            try:
                res = json.loads(buf.decode("utf-8"))
                if not (isinstance(res, dict) and res.get("status") in ("ok", "error", "memory")):
                    raise ValueError("bad result record")
                return _result(res["status"], _str_or_none(res.get("value")),
                               _str_or_none(res.get("error_type")), _str_or_none(res.get("error_message")))
            except (ValueError, UnicodeDecodeError):
                return _result("error", None, "BadResult", "the program corrupted its result channel")
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return _result("timeout", None, "CPULimit", "CPU-time limit exceeded")
            return _result("killed", None, "Signal", f"killed by {_signame(sig)}")
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        return _result("error", None, "Exit", f"process exited with code {code} before returning a result")

    def _cleanup(self, pid: int) -> None:
        """Kill whatever the run left behind (no-op when its PID namespace is gone)."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _reap_orphans()  # cheap when nothing is left (the usual case, and always with a PID namespace)

    def _clean_tmp(self) -> None:
        """Remove everything the run wrote (its run dir, and anything else in the private /tmp)."""
        import shutil

        for name in os.listdir(self.tmp_root):
            path = os.path.join(self.tmp_root, name)
            try:
                os.rmdir(path)
            except OSError:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)


def _drain(fd: int, buf: bytearray, limit: int) -> bool:
    """Read what is already in a pipe without waiting; False if it exceeds ``limit``."""
    while True:
        ready, _, _ = select.select([fd], [], [], 0)
        if not ready:
            return True
        chunk = os.read(fd, 65536)
        if not chunk:
            return True
        buf += chunk
        if len(buf) > limit:
            return False


def _kill_tree(pid: int) -> None:
    for target in (lambda: os.kill(pid, signal.SIGKILL), lambda: os.killpg(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _reap_orphans() -> None:
    """Without a PID namespace: kill and reap every process re-parented to this subreaper."""
    try:  # fast path: no child left at all (the common case), no /proc scan needed
        if os.waitpid(-1, os.WNOHANG) == (0, 0):
            pass  # some child is still running: fall through to the scan
    except ChildProcessError:
        return
    me = os.getpid()
    for _ in range(50):
        kids = _children_of(me)
        if not kids:
            break
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        for k in kids:
            try:
                os.waitpid(k, 0)
            except ChildProcessError:
                pass
    while True:  # reap zombies
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break


def _children_of(ppid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == ppid:
            out.append(int(name))
    return out


def _enter_user_namespace() -> bool:
    """Without root: become the owner of a new user namespace (same uid inside), which grants
    the capabilities needed for network, mount and PID namespaces. False if not allowed."""
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(CLONE_NEWUSER)
    except OSError:
        return False
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{uid} {uid} 1"),
                       ("/proc/self/gid_map", f"{gid} {gid} 1")):
        try:
            with open(path, "w") as fh:
                fh.write(text)
        except OSError:
            if path != "/proc/self/setgroups":
                raise
    return True


def _probe_pid_namespace() -> bool:
    """Can a child create a PID namespace and fork PID 1 into it?"""
    pid = os.fork()
    if pid == 0:
        try:
            _unshare(CLONE_NEWPID)
            g = os.fork()
            if g == 0:
                os._exit(0 if os.getpid() == 1 else 1)
            _, st = os.waitpid(g, 0)
            os._exit(0 if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 else 1)
        except BaseException:
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    return os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0


_MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024,
                "nodiratime": 2048, "relatime": 1 << 21, "strictatime": 1 << 24}


def _remount_read_only(skip=()) -> bool:
    """In a user-namespace mount namespace: make every mount read-only except /tmp and the
    kernel filesystems (keeping each mount's locked flags). True if all remounts worked."""
    ok = True
    with open("/proc/self/mountinfo") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        parts = line.split()
        target = parts[4].encode().decode("unicode_escape")
        opts = parts[5].split(",")
        if "ro" in opts or any(_under(target, d) for d in ("/tmp", "/proc", "/sys", "/dev", *skip)):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for o in opts:
            flags |= _MOUNT_FLAGS.get(o, 0)
        try:
            _mount("none", target, None, flags, None)
        except OSError:
            ok = False
    return ok


#: Never hidden: the system directories a Python child needs (and / itself).
_SYSTEM_DIRS = ("/", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc",
                "/dev", "/sys", "/tmp", "/var", "/run")


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _minimal(paths) -> list:
    """Drop every path that lies under another one of the list."""
    out: list = []
    for p in sorted(set(paths), key=len):
        if not any(_under(p, q) for q in out):
            out.append(p)
    return out


def _hidden_tops(requested, import_paths, check_traverse: bool) -> list:
    """Directories to cover with an empty tmpfs: the requested ones that exist (never a system
    directory or an ancestor of one) plus, when ``check_traverse``, the highest ancestor of an
    import directory that other users cannot traverse (e.g. /root)."""
    cands = []
    for d in requested:
        if not d or not os.path.isdir(d):
            continue
        d = os.path.realpath(d)
        if any(_under(s, d) for s in _SYSTEM_DIRS) or any(_under(d, s) for s in _SYSTEM_DIRS if s != "/"):
            continue  # "/", a system directory or anything under one (/usr/..., /tmp/...): not hidden
        cands.append(d)
    if check_traverse:
        for p in import_paths:
            if not p or not os.path.isdir(p):
                continue
            cur = "/"
            for part in os.path.realpath(p).split(os.sep)[1:-1]:
                cur = os.path.join(cur, part)
                if not os.stat(cur).st_mode & 0o001:
                    cands.append(cur)
                    break
    return _minimal(cands)


def _world_writable(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return bool(st.st_mode & 0o002) and os.path.isdir(path) and not os.path.islink(path)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _str_or_none(v):
    return None if v is None else str(v)


def _result(status, value, error_type, error_message) -> dict:
    return {"status": status, "value": value, "error_type": error_type, "error_message": error_message}


# ----------------------------------------------------------------------------- child
def _child(worker: Worker, job: dict, wfd: int, rundir, timeout: float) -> None:  # pragma: no cover
    """Runs in the forked child: confine, run the program, report once, ``_exit``."""
    import builtins

    dumps, write, exit_, repr_ = json.dumps, os.write, os._exit, builtins.repr
    cap = int(worker.s["max_output_bytes"])
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()
        os.chdir(rundir)
        _redirect_std_fds()
        _close_fds_except(wfd)
        _set_rlimits(worker.s, timeout)
        if worker.uid is not None:
            os.setgroups([])
            os.setgid(worker.gid)
            os.setuid(worker.uid)
        os.environ["HOME"] = os.environ["TMPDIR"] = rundir
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past RLIMIT_FSIZE raise OSError
    except BaseException as e:
        res = _result("error", None, "SandboxSetupError", f"{type(e).__name__}: {e}")
        _write_all(wfd, dumps(res).encode())
        exit_(3)

    status, value, etype, emsg = "ok", None, None, None
    try:
        glb = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(job["code"], "<program>", "exec"), glb)
        if job.get("expr") is not None:
            value = repr_(eval(compile(job["expr"], "<expr>", "eval"), glb))
            if len(value) > cap:
                status, value = "error", None
                etype, emsg = "OutputTooLarge", f"repr of the result exceeds {cap} characters"
    except MemoryError:
        status, value, etype, emsg = "memory", None, "MemoryError", "memory limit exceeded"
    except BaseException as e:  # the program may raise anything, SystemExit included
        status, value = "error", None
        try:
            etype = type(e).__name__
            emsg = str(e)[:cap]
        except BaseException:
            etype, emsg = etype or "Exception", "<unprintable exception>"
    try:
        data = dumps({"status": status, "value": value, "error_type": etype, "error_message": emsg}).encode()
    except BaseException:
        data = b'{"status": "error", "value": null, "error_type": "BadResult", "error_message": "unencodable"}'
    try:
        view = memoryview(data)
        while view:
            view = view[write(wfd, view):]
    finally:
        exit_(0)


def _pid1_parent(worker: Worker, job: dict, wfd: int, rundir, timeout: float) -> None:  # pragma: no cover
    """Without root (user namespace): fork the program as PID 1 of a new PID namespace and
    mirror its fate (exit code or killing signal) for the worker. If this process is killed
    on timeout, the program gets SIGKILL (parent-death signal) and its namespace dies."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _unshare(CLONE_NEWPID)
        g = os.fork()
    except BaseException as e:
        res = _result("error", None, "SandboxSetupError", f"{type(e).__name__}: {e}")
        _write_all(wfd, json.dumps(res).encode())
        os._exit(3)
    if g == 0:
        _child(worker, job, wfd, rundir, timeout)
    os.close(wfd)
    _, st = os.waitpid(g, 0)
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 1)


def _redirect_std_fds() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _close_fds_except(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)


def _set_rlimits(s: dict, timeout: float) -> None:
    cpu = int(timeout) + 1
    mb = 1024 * 1024
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: (int(s["memory_mb"]) * mb, int(s["memory_mb"]) * mb),
        resource.RLIMIT_FSIZE: (int(s["max_file_mb"]) * mb, int(s["max_file_mb"]) * mb),
        resource.RLIMIT_NOFILE: (int(s["max_open_files"]),) * 2,
        resource.RLIMIT_NPROC: (int(s["max_procs"]),) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for res, lim in limits.items():
        resource.setrlimit(res, lim)


def main() -> None:
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    settings = read_msg(in_fd)
    if settings is None:
        return
    Worker(settings, in_fd, out_fd).serve()


if __name__ == "__main__":
    main()
