"""Configuration of the sandboxed executor (one frozen dataclass, embedded by other configs)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ExecutorConfig:
    """Settings of the sandbox worker pool and of the limits applied to every program.

    Every limit applies per program run (one fresh forked child per run). The isolation
    flags say what to *try*; what is actually active is reported by
    ``Sandbox.protections`` (e.g. namespaces need root or a kernel that allows them).
    """

    workers: int = 2
    """Programs run concurrently (one worker server process each; at least 2 worker
    processes are always started so that determinism checks can compare two processes)."""

    timeout_s: float = 5.0
    """Default wall-clock limit of one run in seconds (``Job.timeout_s`` overrides it). The
    run's whole process tree is killed from outside when it expires."""

    memory_mb: int = 512
    """Address-space limit (RLIMIT_AS) of the program process, in MiB. As root, each worker
    and its programs also share a memory cgroup limited to ``memory_mb + max_file_mb + 96``
    MiB, which counts tmpfs, shared-memory and memfd pages too."""

    max_output_bytes: int = 65_536
    """Largest ``repr`` of a result (and of an error message) sent back; a larger result
    is reported as status ``error`` with ``error_type == "OutputTooLarge"``."""

    max_file_mb: int = 16
    """Largest file the program may write (RLIMIT_FSIZE), size of its private /tmp (which
    also holds at most 4096 files and directories), and of its System V shared memory."""

    max_open_files: int = 64
    """RLIMIT_NOFILE of the program (file descriptors)."""

    max_procs: int = 32
    """RLIMIT_NPROC of the program's user: a bound on fork bombs. As root the program runs
    as ``run_as_user``, and this counts all processes of that user on the machine."""

    drop_privileges: bool = True
    """When running as root: switch the program to ``run_as_user`` (setuid/setgid)."""

    run_as_user: str = "nobody"
    """Unprivileged user the program runs as when ``drop_privileges`` applies."""

    user_namespace: bool = True
    """When not root: enter an unprivileged user namespace (if the kernel allows it) so that
    the network, PID and mount isolation below work too; the filesystem is then remounted
    read-only except the private /tmp. Root uses real privileges instead."""

    isolate_network: bool = True
    """Put each worker in a new network namespace (no interfaces up: no network at all)."""

    isolate_pids: bool = True
    """Run each program as PID 1 of a new PID namespace, so that every process it starts
    dies with it (no stray processes, even after ``setsid`` + double fork)."""

    isolate_mounts: bool = True
    """As root: build each worker's filesystem view from an allowlist (a read-only tmpfs root
    with read-only binds of the standard library, shared libraries and four device nodes;
    no site-packages) and give each program new mount and IPC namespaces with a fresh
    size- and inode-capped tmpfs on /tmp, its working directory. Without root (user
    namespace) or where that fails: the denylist view below (everything read-only, the
    ``hide_paths`` masked) with a per-worker private /tmp."""

    hide_paths: tuple[str, ...] = ("/home", "/root", "/work", "/mnt", "/media", "/srv", "/opt")
    """With the fallback (denylist) mount isolation only: directories programs see as empty
    and read-only (code, data sets, home directories). The caller's working directory and ``$AZR_DATA_DIR`` are
    added automatically; the Python installation is bound back if it lives under one.
    System directories (/usr, /etc, /var, /tmp, ...) and anything under them are never
    hidden."""

    preimport: tuple[str, ...] = (
        "collections", "itertools", "functools", "math", "re", "string", "heapq",
        "bisect", "copy", "operator", "typing", "dataclasses", "fractions", "decimal",
        "statistics", "json", "ast", "enum", "numbers", "array", "textwrap", "unicodedata",
    )
    """Standard-library modules imported once by each worker before forking programs."""

    backend: str = "local"
    """Where programs run: ``"local"`` (this machine's worker pool) or ``"ray"`` (worker pools
    inside Ray actors, any number of nodes; see ``azr.distributed.ray_sandbox``)."""

    ray_actors: int = 2
    """With ``backend: ray``: number of sandbox actors (each owns a pool of ``workers``)."""

    seed: int = 0
    """Base of the per-worker PYTHONHASHSEED (worker k uses ``seed * 1000 + k + 1``), so
    that different workers hash strings differently."""

    def __post_init__(self) -> None:
        if self.backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', got {self.backend!r}")
        if self.ray_actors < 1:
            raise ValueError(f"ray_actors must be >= 1, got {self.ray_actors}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not 0 < self.timeout_s < 1e6:
            raise ValueError(f"timeout_s must be a positive number of seconds (< 1e6), got {self.timeout_s}")
        for name in ("memory_mb", "max_output_bytes", "max_file_mb", "max_open_files", "max_procs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.memory_mb < 64:
            raise ValueError(f"memory_mb must be >= 64 (a Python child needs some), got {self.memory_mb}")
        if self.max_open_files < 8:
            raise ValueError(f"max_open_files must be >= 8, got {self.max_open_files}")
        for name in ("preimport", "hide_paths"):
            if not isinstance(getattr(self, name), tuple):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "ExecutorConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown executor settings: {sorted(unknown)}")
        kwargs = dict(d)
        for name in ("preimport", "hide_paths"):
            if name in kwargs:
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)
