"""Sandbox worker server: a small, clean interpreter that forks one child per program.

This file is run as a *script* by ``azr.executor.sandbox`` (``python -S -s -P _worker.py``,
with a minimal environment) and imports only the standard library (plus ``literals.py``
next to it, loaded by path). It is never imported by the trainer. Protocol over its
stdin/stdout (moved to private descriptors at start): each message is a 4-byte big-endian
length followed by UTF-8 JSON.

  caller -> worker   first: settings (ExecutorConfig.to_dict()); then one job per message
                     ``{"code", "expr", "call_args", "timeout_s"}``; ``{"op": "exit"}`` stops it.
  worker -> caller   first: ``{"hello": true, "protections": {...}, ...}``; then one result per
                     job ``{"status", "value", "error_type", "error_message", "duration_s",
                     "retire"}``, or ``{"frame": n, "duration_s", "retire"}`` followed by the
                     child's n-byte frame (``report.py``); ``retire``: the worker could not
                     clean up and exits now.

As root, each worker once builds an *allowlisted* filesystem view: a fresh read-only tmpfs
root holding read-only binds of the interpreter's standard library (its site-packages
masked), the system shared-library directory and four device nodes, then ``pivot_root``
into it (nothing else of the host is reachable, AF_UNIX socket files included). The worker
joins a memory cgroup of its own (counting tmpfs, shared memory and memfd pages), and forks
a *zygote* before it receives any job. Per program the zygote does ``unshare(CLONE_NEWPID)``
then ``fork`` (the child is PID 1 of a fresh PID namespace, so every process it starts dies
with it) and the child reads its job from a pipe: its memory never held another job. The
worker supervises it (wall clock, report pipe) and asks the zygote to kill it. The child enters new mount and IPC
namespaces, mounts a fresh size- and inode-capped tmpfs on /tmp (its working directory:
it vanishes with the namespace, whatever it holds), starts a new session, sets rlimits,
switches to an unprivileged user, sets ``PR_SET_NO_NEW_PRIVS`` and a seccomp filter (no
keyring, ptrace, namespaces, mounts, bpf, io_uring), and runs the program. The worker
kills it from outside on the wall-clock timeout.

The child reports through a pipe in a small binary frame (``report.frame``) built only
from references taken before the program ran. The worker reads it into a preallocated
buffer, forwards the raw bytes after its JSON message (``{"frame": n, ...}``) and zeroes the
buffer: program outputs never become objects in the worker, so no later child (forked from
it) can find an earlier program's output in its memory. The caller parses the frame
strictly (``report.parse_report``): a program can at most report a value of its own
choosing for its own run, never crash or mislead the worker or the caller. Without root, the worker enters an
unprivileged user namespace where allowed and forks twice per program (it cannot ``setns``
back); the filesystem is then remounted read-only instead of replaced. ``protections``
says which steps are active.
"""

import ctypes
import json
import os
import pwd
import resource
import select
import signal
import stat
import struct
import sys
import tempfile
import time

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
CLONE_NEWTIME, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00000080, 0x02000000, 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 22, 36, 38
WORLD_WRITABLE_CANDIDATES = ("/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run/shm", "/dev/mqueue", "/var/crash")
_LIBC = ctypes.CDLL(None, use_errno=True)
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
_TMP_INODES = 4096  # files + directories a program may create in its /tmp


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


def _load(name: str):
    """A stdlib-only module beside this file (``literals``, ``report``), loaded by path."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"azr_sandbox_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


# ----------------------------------------------------------------------------- seccomp
_AUDIT_ARCH_X86_64 = 0xC000003E
#: x86_64 numbers of the system calls a program never needs: keyrings, tracing other
#: processes, namespaces and mounts, kernel modules, bpf, perf, userfaultfd, io_uring.
_DENIED_SYSCALLS = {
    "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "acct": 163,
    "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "add_key": 248, "request_key": 249,
    "keyctl": 250, "kexec_load": 246, "unshare": 272, "move_pages": 279, "perf_event_open": 298,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "bpf": 321, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "clone3": 435, "mount_setattr": 442,
}
_NS_FLAGS = (CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME
             | CLONE_NEWCGROUP | CLONE_NEWUTS)


def _seccomp_program() -> bytes:
    """A classic-BPF filter: wrong architecture -> kill; x32 ABI, a denied call, or ``clone``
    with a namespace flag -> EPERM (``clone3``: ENOSYS, so that libc falls back to ``clone``)."""
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    denied = sorted(set(_DENIED_SYSCALLS.values()) - {435})
    n = len(denied)
    ins = [(ld, 0, 0, 4), (jeq, 1, 0, _AUDIT_ARCH_X86_64), (ret, 0, 0, kill), (ld, 0, 0, 0),
           (0x35, 0, 1, 0x40000000), (ret, 0, 0, eperm)]  # jge: x32 system calls
    # then: n denied checks (-> eperm), clone3 (-> enosys), clone (-> clone-args), allow, eperm, clone-args
    for i, nr in enumerate(denied):
        ins.append((jeq, n - i + 3, 0, nr))  # -> eperm
    ins.append((jeq, 0, 1, 435))
    ins.append((ret, 0, 0, enosys))
    ins.append((jeq, 2, 0, 56))  # clone -> clone-args
    ins.append((ret, 0, 0, allow))
    ins.append((ret, 0, 0, eperm))
    ins += [(ld, 0, 0, 16), (jset, 1, 0, _NS_FLAGS), (ret, 0, 0, allow), (ret, 0, 0, eperm)]
    return b"".join(struct.pack("HBBI", *i) for i in ins)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _seccomp_args(prog: bytes) -> tuple:
    """The prepared ``struct sock_fprog`` (and the buffer it points to, kept alive)."""
    buf = ctypes.create_string_buffer(prog, len(prog))
    return _Fprog(len(prog) // 8, ctypes.addressof(buf)), buf


def _install_seccomp(fprog) -> None:  # pragma: no cover - runs in the child
    _check(_LIBC.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(2), ctypes.byref(fprog[0]), 0, 0), "seccomp")


# ----------------------------------------------------------------------------- worker
class Worker:
    def __init__(self, settings: dict, in_fd: int, out_fd: int):
        self.s = settings
        self.in_fd, self.out_fd = in_fd, out_fd
        self.root = os.geteuid() == 0
        self.uid = self.gid = None
        self.pidns_fd = None
        self.oom_fd = None
        self.cgroup = None
        self.prot = {"root": self.root}
        self.hidden: list = []
        self.visible: list = []
        self.literals = _load("literals")
        self.report = _load("report")
        self.buf = bytearray(4 * int(settings["max_output_bytes"]) + 8192 + 1)  # the child's frame, zeroed after use
        self.seccomp = _seccomp_args(_seccomp_program()) if os.uname().machine == "x86_64" else None
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
        import shutil  # noqa: F401  (needed by the cleanup after the filesystem view changes)

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
        self.off = off = set(s.get("disable", ()))  # benchmarks only: measure what one protection costs
        prot["memory_cgroup"] = self.root and "memory_cgroup" not in off and self._join_memory_cgroup()
        self.proc_fd = None
        if prot["memory_cgroup"]:  # the cgroup's OOM killer must pick the program, not the worker:
            try:  # each child raises its own oom_score_adj through this descriptor (closed before it runs)
                self.proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                pass
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
        prot["mount_namespace"] = prot["allowlisted_root"] = False
        if s["isolate_mounts"] and self.root and prot["pid_namespace"] and "allowlisted_root" not in off:
            try:
                # not even present in the view; reported for callers that check what is hidden
                hidden = _hidden_tops(list(s.get("hide_paths", ())) + list(s.get("hide_extra", ())), (), False)
                self._build_root()
                prot["mount_namespace"] = prot["allowlisted_root"] = True
                self.hidden = hidden
            except OSError:
                pass
        if s["isolate_mounts"] and admin and not prot["mount_namespace"]:
            try:
                self._setup_mounts()
                if not self.root:
                    prot["read_only_filesystem"] = _remount_read_only(skip=self.hidden)
                prot["mount_namespace"] = True
            except OSError:
                pass
        # per program: IPC and mount namespaces with a fresh /tmp (root, or owner of a user namespace)
        prot["ipc_namespace"] = admin and "ipc_namespace" not in off and _probe_unshare(CLONE_NEWIPC)
        self.private_tmp = prot["allowlisted_root"]
        if prot["mount_namespace"]:
            self.tmp_root = "/tmp"
        else:
            self.tmp_root = tempfile.mkdtemp(prefix="azr-sbx-")
            os.chmod(self.tmp_root, 0o711)
        self.rundir = "/tmp" if self.private_tmp else os.path.join(self.tmp_root, "run")
        prot["no_new_privs"] = True
        prot["seccomp"] = self.seccomp is not None and "seccomp" not in off and _probe_seccomp(self.seccomp)
        prot["rlimits"] = True
        prot["wall_clock_kill"] = True
        prot["new_session"] = True
        self.zygote = None
        if prot["allowlisted_root"] and self.pidns_fd is not None and "clean_fork_parent" not in off:
            self._start_zygote()
        prot["clean_fork_parent"] = self.zygote is not None

    def _start_zygote(self) -> None:
        """Fork the process that forks every program, now, before any job reaches this
        worker: programs then start from a memory image that never held another job's
        program, inputs, answers or outputs (this worker holds them; the zygote never does)."""
        import socket

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the zygote
            try:
                mine.close()
                for fd in (self.in_fd, self.out_fd):
                    os.close(fd)
                _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                self._zygote_loop(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.zygote, self.zygote_pid = mine, pid

    def _zygote_loop(self, sock) -> None:  # pragma: no cover - runs in the zygote
        """Per job: receive (timeout, spec pipe, report pipe), fork the program as PID 1 of
        a new PID namespace, say its pid, wait for it (killing it on request), say its status."""
        import socket

        while True:
            msg, fds, _, _ = socket.recv_fds(sock, 64, 2)
            if not msg:
                return
            if len(fds) != 2:  # a late kill request for a job that already ended
                for fd in fds:
                    os.close(fd)
                continue
            spec_r, wfd = fds
            timeout = float(msg.decode())
            pid = -1
            try:
                _unshare(CLONE_NEWPID)
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    _zygote_child(self, spec_r, wfd, timeout)
                _setns(self.pidns_fd, CLONE_NEWPID)
            except OSError:
                pass
            os.close(spec_r)
            os.close(wfd)
            sock.send(b"P" + struct.pack(">i", pid))
            if pid < 0:
                continue
            pidfd = os.pidfd_open(pid)
            while not select.select([pidfd, sock], [], [])[0].count(pidfd):
                if not sock.recv(64):
                    _kill_tree(pid)
                    return
                _kill_tree(pid)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            sock.send(b"S" + struct.pack(">i", status))

    def _join_memory_cgroup(self) -> bool:
        """Move this worker into a memory cgroup of its own whose limit bounds everything its
        programs allocate, page cache of their files, tmpfs, System V / POSIX shared memory
        and memfd included (cgroup v1 ``memory`` or v2 ``memory.max``)."""
        limit = (int(self.s["memory_mb"]) + int(self.s["max_file_mb"]) + 96) * 1024 * 1024
        try:
            with open("/proc/self/cgroup") as fh:
                lines = fh.read().splitlines()
            v1 = [ln.split(":", 2)[2] for ln in lines if ln.split(":")[1] == "memory"]
            v2 = [ln.split(":", 2)[2] for ln in lines if ln.startswith("0::")]
            if v1 and os.path.isdir("/sys/fs/cgroup/memory"):
                base, files = "/sys/fs/cgroup/memory" + v1[0], ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
                events = "memory.oom_control"
            elif v2 and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                base, files, events = "/sys/fs/cgroup" + v2[0], ("memory.max", "memory.swap.max"), "memory.events"
            else:
                return False
            for name in os.listdir(base):  # groups of workers that died with their caller (empty)
                if name.startswith("azr-sandbox-") and not os.path.exists(f"/proc/{name[12:]}"):
                    try:
                        os.rmdir(os.path.join(base, name))
                    except OSError:
                        pass
            path = os.path.join(base, f"azr-sandbox-{os.getpid()}")
            os.mkdir(path)
            self.cgroup = path
            for i, name in enumerate(files):
                if os.path.exists(os.path.join(path, name)):
                    with open(os.path.join(path, name), "w") as fh:
                        fh.write(str(limit) if i == 0 or name.endswith("memsw.limit_in_bytes") else "0")
            with open(os.path.join(path, "cgroup.procs"), "w") as fh:
                fh.write(str(os.getpid()))
            self.oom_fd = os.open(os.path.join(path, events), os.O_RDONLY)
            return True
        except (OSError, IndexError, ValueError):
            return False

    def _oom_kills(self) -> int:
        if self.oom_fd is None:
            return 0
        try:
            for line in os.pread(self.oom_fd, 4096, 0).decode().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def _build_root(self) -> None:
        """As root: a new mount namespace whose root is a fresh read-only tmpfs holding only
        read-only binds of the standard library (site-packages masked), the shared-library
        directories, a few device nodes, and an empty /tmp; the host's root is detached."""
        imports = _minimal([os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)])
        masks = [os.path.join(d, n) for d in imports for n in ("site-packages", "dist-packages")
                 if os.path.isdir(os.path.join(d, n))]
        libs = _minimal([d for d in map(os.path.realpath, _library_dirs())
                         if not any(_under(i, d) or _under(d, i) for i in imports)])
        files = [p for p in ("/etc/ld.so.cache",) if os.path.isfile(p)]
        links = [p for p in ("/lib", "/lib64", "/lib32", "/libx32") if os.path.islink(p)]
        _unshare(CLONE_NEWNS)
        _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        new = "/tmp"  # any existing directory serves as the mount point of the new root
        _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,nr_inodes=1024,mode=755")
        for src in imports + libs + files + list(_DEVICES):
            dst = new + src
            if os.path.isdir(src):
                os.makedirs(dst, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.close(os.open(dst, os.O_CREAT | os.O_WRONLY, 0o644))
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | (0 if src in _DEVICES else MS_NODEV)
            _mount(src, dst, None, MS_BIND | MS_REC, None)
            _mount("none", dst, None, flags, None)
        for m in masks:
            _mount("tmpfs", new + m, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=755")
        for ln in links:
            if not os.path.lexists(new + ln):
                os.symlink(os.readlink(ln), new + ln)
        os.makedirs(new + "/tmp", exist_ok=True)
        os.chmod(new + "/tmp", 0o755)
        os.chdir(new)
        _check(_LIBC.syscall(ctypes.c_long(155), b".", b"."), "pivot_root")  # x86_64 pivot_root(".", ".")
        _check(_LIBC.umount2(b".", ctypes.c_int(MNT_DETACH)), "umount old root")
        os.chdir("/")
        _mount("none", "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        self.visible = imports + libs + files + list(_DEVICES)

    def _setup_mounts(self) -> None:
        """Fallback (no root, or the allowlisted root failed): a private mount namespace with a
        fresh size-capped tmpfs on /tmp, read-only empty masks over the other world-writable
        directories and over the hidden directories (``hide_paths``, the caller's working and
        data directories, and any directory the unprivileged user cannot traverse, such as
        /root). Import directories of the Python installation that sit under a hidden
        directory are bound back read-only."""
        tops = _hidden_tops(list(self.s.get("hide_paths", ())) + list(self.s.get("hide_extra", ())),
                            sys.path, check_traverse=self.uid is not None)
        imports = _minimal([os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)])
        expose = [p for p in imports if any(_under(p, t) for t in tops)]
        _unshare(CLONE_NEWNS)
        _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in expose}
        size_kb = int(self.s["max_file_mb"]) * 1024
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_kb}k,nr_inodes={_TMP_INODES},mode=1777")
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
                                "visible_paths": self.visible, "cgroup": self.cgroup, "pid": os.getpid()})
        while True:
            msg = read_msg(self.in_fd)
            if msg is None or msg.get("op") == "exit":
                break
            self.retire = False
            try:
                result = self.run_job(msg)
            except Exception as e:  # a sandbox fault, not the program's: report it, then step down
                result = _result("killed", None, "SandboxError", f"{type(e).__name__}: {e}") | {"duration_s": 0.0}
                self.retire = True
            result["retire"] = self.retire
            write_msg(self.out_fd, result)
            n = result.get("frame", 0)
            if n:  # the raw frame follows; then no trace of it stays in this process
                _write_all(self.out_fd, memoryview(self.buf)[:n])
                self.buf[:n] = bytes(n)
            if self.retire:
                break
        if not self.prot["mount_namespace"]:
            _remove_tree(self.tmp_root)

    # -- one program ------------------------------------------------------------------
    def run_job(self, job: dict) -> dict:
        timeout = float(job.get("timeout_s") or self.s["timeout_s"])
        cap = int(self.s["max_output_bytes"])
        rundir = self.rundir
        if not self.private_tmp:
            os.mkdir(rundir, 0o700)
            if self.uid is not None:
                os.chown(rundir, self.uid, self.gid)
        r, w = os.pipe()
        oom_before = self._oom_kills()
        t0 = time.monotonic()
        if self.zygote is not None:
            result = self._run_in_zygote(job, r, w, t0, timeout, cap)
            if result.get("status") == "killed" and self._oom_kills() > oom_before:
                result = _result("memory", None, "MemoryError", "memory limit exceeded (cgroup)")
            result["duration_s"] = round(time.monotonic() - t0, 6)
            return result
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
            pidfd = os.pidfd_open(pid)
            try:
                result = self._supervise(pidfd, r, t0, timeout, cap, lambda: _kill_tree(pid),
                                         lambda: os.waitpid(pid, 0)[1])
            finally:
                os.close(pidfd)
        finally:
            os.close(r)
            self._cleanup(pid)
            if not self.private_tmp:
                self._clean_tmp()
        if result.get("status") == "killed" and self._oom_kills() > oom_before:
            result = _result("memory", None, "MemoryError", "memory limit exceeded (cgroup)")
        result["duration_s"] = round(time.monotonic() - t0, 6)
        return result

    def _run_in_zygote(self, job: dict, r: int, w: int, t0: float, timeout: float, cap: int) -> dict:
        """Have the zygote fork the program; the job's text reaches it through a pipe."""
        import socket

        spec_r, spec_w = os.pipe()
        try:
            socket.send_fds(self.zygote, [str(timeout).encode()], [spec_r, w])
        finally:
            os.close(spec_r)
            os.close(w)
        try:
            try:
                _write_all(spec_w, json.dumps(job).encode())
            except BrokenPipeError:
                pass
            finally:
                os.close(spec_w)
            head = self.zygote.recv(64)
            if len(head) != 5 or head[:1] != b"P":
                raise OSError("the zygote did not start the program")
            (pid,) = struct.unpack(">i", head[1:])
            if pid < 0:
                return _result("error", None, "SandboxSetupError", "fork failed")
            return self._supervise(self.zygote.fileno(), r, t0, timeout, cap,
                                   lambda: self.zygote.send(b"k"), self._zygote_status)
        finally:
            os.close(r)

    def _zygote_status(self) -> int:
        msg = self.zygote.recv(64)
        if len(msg) != 5 or msg[:1] != b"S":
            raise OSError("the zygote stopped answering")
        return struct.unpack(">i", msg[1:])[0]

    def _supervise(self, exit_fd: int, r: int, t0: float, timeout: float, cap: int, kill, reap) -> dict:
        """Wait until ``exit_fd`` is readable (the program ended) or the time is up (then
        ``kill()``); ``reap()`` gives the wait status. The child's frame (if any) is read into
        ``self.buf`` and comes back as ``{"frame": n}``, unparsed (the caller parses it)."""
        view = memoryview(self.buf)
        n, eof, exited, timed_out, too_big = 0, False, False, False, False
        limit = len(self.buf) - 1  # value + error message, UTF-8, framing
        while True:
            left = t0 + timeout - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([exit_fd] + ([] if eof else [r]), [], [], left)
            if r in ready:
                got = os.readv(r, [view[n:]])
                eof = got == 0
                n += got
                if n > limit:
                    too_big = True
                    break
            if exit_fd in ready:
                exited = True
                while not eof and n <= limit and select.select([r], [], [], 0)[0]:  # what is already there
                    got = os.readv(r, [view[n:]])
                    eof = got == 0
                    n += got
                too_big = n > limit
                break
        if timed_out or too_big or not exited:
            kill()
        status = reap()
        if timed_out or too_big:
            self.buf[:n] = bytes(n)
        if timed_out:
            return _result("timeout", None, "Timeout", f"wall-clock limit of {timeout:g} s exceeded")
        if too_big:
            return _result("error", None, "OutputTooLarge", f"result exceeds {cap} bytes")
        if n:
            return {"frame": n}
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
        """Without a per-program /tmp: remove everything the run wrote in the worker's temp
        directory; if anything stays, retire this worker (the pool starts a fresh one)."""
        for name in os.listdir(self.tmp_root):
            _remove_tree(os.path.join(self.tmp_root, name))
        if os.listdir(self.tmp_root):
            self.retire = True


def _remove_tree(path: str) -> None:
    """Remove a file or directory tree whatever it holds (any depth, ``chmod 000``
    directories, fifos, sockets, symlinks), without recursion and with short paths only:
    each directory's subdirectories are first moved up next to ``path`` (same filesystem),
    so no path ever grows. Errors are left for the caller to notice."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    parent = os.path.dirname(os.path.abspath(path))
    todo, done, k = [path], [], 0
    while todo:
        d = todo.pop()
        done.append(d)
        try:
            os.chmod(d, 0o700)
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    k += 1
                    flat = os.path.join(parent, f".azr-rm-{os.getpid()}-{k}")
                    os.rename(e.path, flat)
                    todo.append(flat)
                else:
                    os.unlink(e.path)
            except OSError:
                pass
    for d in reversed(done):
        try:
            os.rmdir(d)
        except OSError:
            pass


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
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                st = fh.read()
        except OSError:
            continue
        fields = st[st.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == ppid:
            out.append(int(name))
    return out


def _library_dirs() -> list:
    """Directories of the shared libraries this process has mapped, plus the system's
    multiarch library directories (extension modules load more of them later)."""
    dirs = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) == 6 and ".so" in parts[5]:
                    dirs.add(os.path.dirname(parts[5].strip()))
    except OSError:
        pass
    arch = os.uname().machine
    for d in (f"/lib/{arch}-linux-gnu", f"/usr/lib/{arch}-linux-gnu", "/lib64", "/usr/lib64"):
        if os.path.isdir(d):
            dirs.add(d)
    return [d for d in dirs if d.startswith("/") and os.path.isdir(d) and d not in ("/", "/usr", "/lib", "/usr/lib")]


def _probe_unshare(flags: int) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            _unshare(flags)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    return os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0


def _probe_seccomp(prog: bytes) -> bool:
    """Does the filter install, and does it deny ``keyctl`` while ordinary calls work?"""
    pid = os.fork()
    if pid == 0:
        try:
            _prctl(PR_SET_NO_NEW_PRIVS, 1)
            _install_seccomp(prog)
            ok = _LIBC.syscall(ctypes.c_long(250), ctypes.c_long(0), ctypes.c_long(-3), 0) == -1 and \
                ctypes.get_errno() == 1 and os.getpid() > 0
            g = os.fork()
            if g == 0:
                os._exit(0)
            os.waitpid(g, 0)
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    return os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0


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


def _result(status, value, error_type, error_message) -> dict:
    return {"status": status, "value": value, "error_type": error_type, "error_message": error_message}


# ----------------------------------------------------------------------------- child
def _child(worker: Worker, job: dict, wfd: int, rundir, timeout: float) -> None:  # pragma: no cover
    """Runs in the forked child: confine, run the program, report once, ``_exit``.

    Everything the report needs (``_frame``, ``repr``, ``os.write``, ``os._exit``, the type
    name getter) is bound to locals before the program runs; the frame is built with
    methods of ``str``/``bytes``/``int``, which programs cannot replace."""
    import builtins

    frame, write, exit_, repr_, isinstance_, type_ = worker.report.frame, os.write, os._exit, builtins.repr, isinstance, type
    getpid, me = os.getpid, os.getpid()
    str_, memoryview_, memory_error = str, memoryview, MemoryError
    type_name = type.__dict__["__name__"].__get__
    base_exc = BaseException
    cap = int(worker.s["max_output_bytes"])
    call = None
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()
        if worker.proc_fd is not None:  # the first victim of an out-of-memory in the worker's cgroup
            fd = os.open("self/oom_score_adj", os.O_WRONLY, dir_fd=worker.proc_fd)
            os.write(fd, b"1000")
            os.close(fd)
        if worker.private_tmp:
            _unshare(CLONE_NEWNS | (CLONE_NEWIPC if worker.prot["ipc_namespace"] else 0))
            owner = "" if worker.uid is None else f",uid={worker.uid},gid={worker.gid}"
            _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   f"size={int(worker.s['max_file_mb']) * 1024}k,nr_inodes={_TMP_INODES},mode=700{owner}")
        elif worker.prot.get("ipc_namespace"):
            _unshare(CLONE_NEWIPC)
        if worker.proc_fd is not None and worker.private_tmp and worker.prot["ipc_namespace"]:  # its own System V limits
            mb = int(worker.s["max_file_mb"])
            for name, value in (("shmmax", mb << 20), ("shmall", (mb << 20) // 4096), ("shmmni", 8), ("msgmni", 0)):
                fd = os.open(f"sys/kernel/{name}", os.O_WRONLY, dir_fd=worker.proc_fd)
                os.write(fd, str(value).encode())
                os.close(fd)
        os.chdir(rundir)
        if job.get("call_args") is not None:
            lit = worker.literals
            ok, parsed = lit.parse_literal(job["call_args"], max_chars=1 << 24, max_depth=lit.MAX_DEPTH + 2)
            if not (ok and isinstance(parsed, tuple) and len(parsed) == 2 and isinstance(parsed[0], tuple)
                    and isinstance(parsed[1], dict) and all(isinstance(k, str) for k in parsed[1])):
                raise ValueError("call arguments are not an (args, kwargs) literal")
            call = parsed
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
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if worker.prot.get("seccomp"):
            _install_seccomp(worker.seccomp)
    except BaseException as e:
        _write_all(wfd, frame(2, (None, "SandboxSetupError", f"{type(e).__name__}: {e}"), cap))
        exit_(3)

    status, value, etype, emsg = 1, None, None, None
    try:
        glb = {"__name__": "__main__", "__builtins__": builtins, "__azr_output_problem__": worker.literals.output_problem}
        exec(compile(job["code"], "<program>", "exec"), glb)
        if call is not None:
            value = repr_(glb["f"](*call[0], **call[1]))
        elif job.get("expr") is not None:
            value = repr_(eval(compile(job["expr"], "<expr>", "eval"), glb))
        if value is not None and (not isinstance_(value, str_) or str_.__len__(value) > cap):
            status, value = 2, None
            etype, emsg = "OutputTooLarge", f"repr of the result exceeds {cap} characters"
    except memory_error:
        status, value, etype, emsg = 3, None, "MemoryError", "memory limit exceeded"
    except base_exc as e:  # the program may raise anything, SystemExit included
        status, value = 2, None
        try:
            etype = type_name(type_(e))
            emsg = str_(e)
        except base_exc:
            etype, emsg = etype or "Exception", "<unprintable exception>"
    if getpid() != me:  # a process the program forked reached this point: it reports nothing
        exit_(0)
    try:
        data = frame(status, (value, etype, emsg), cap)
    except base_exc:
        data = frame(2, (None, "BadResult", "unencodable result"), cap)
    try:
        view = memoryview_(data)
        while view:
            view = view[write(wfd, view):]
    finally:
        exit_(0)


def _zygote_child(worker: Worker, spec_r: int, wfd: int, timeout: float) -> None:  # pragma: no cover
    """In a program's process forked by the zygote: read the job, then run it as usual."""
    try:
        chunks = []
        while True:
            b = os.read(spec_r, 1 << 16)
            if not b:
                break
            chunks.append(b)
        os.close(spec_r)
        job = json.loads(b"".join(chunks).decode("utf-8"))
    except BaseException as e:
        _write_all(wfd, worker.report.frame(2, (None, "SandboxSetupError", f"{type(e).__name__}: {e}"), 1000))
        os._exit(3)
    _child(worker, job, wfd, worker.rundir, timeout)


def _pid1_parent(worker: Worker, job: dict, wfd: int, rundir, timeout: float) -> None:  # pragma: no cover
    """Without root (user namespace): fork the program as PID 1 of a new PID namespace and
    mirror its fate (exit code or killing signal) for the worker. If this process is killed
    on timeout, the program gets SIGKILL (parent-death signal) and its namespace dies."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _unshare(CLONE_NEWPID)
        g = os.fork()
    except BaseException as e:
        _write_all(wfd, worker.report.frame(2, (None, "SandboxSetupError", f"{type(e).__name__}: {e}"), 1000))
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
        resource.RLIMIT_MSGQUEUE: (0, 0),
        resource.RLIMIT_MEMLOCK: (0, 0),
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
