"""The sandbox started by an unprivileged user (the laptop case): user namespaces instead of root.

Runs a script as ``nobody`` with a system Python (>= 3.11) that this user can read; skipped
where the test does not run as root or no such interpreter exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = r'''
import json, os, socket, sys
sys.path.insert(0, sys.argv[1])
from azr.executor import ExecutorConfig, Job, Sandbox
marker, target = sys.argv[2], sys.argv[3]
out = {}
with Sandbox(ExecutorConfig(workers=2, timeout_s=2.0)) as sb:
    out["uid"] = os.getuid()
    out["protections"] = sb.protections
    stray = ("import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
             f"        os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600; : {marker}'])\n    os._exit(0)\n")
    net = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=0.5)\n    r = 'connected'\n"
           "except OSError as e:\n    r = type(e).__name__\n")
    write = f"try:\n    open({target!r}, 'w').write('x')\n    r = 'wrote'\nexcept OSError as e:\n    r = type(e).__name__\n"
    res = sb.run([
        Job("def f(x):\n    return x * 2", "f(21)"),
        Job("while True: pass", timeout_s=0.5),
        Job(stray, "1"),
        Job(net, "r"),
        Job(write, "r"),
        Job("import ctypes\nctypes.string_at(0)"),
        Job("import os", "os.getpid()"),
    ])
    out["results"] = [[r.status, r.value, r.error_message] for r in res]
print(json.dumps(out))
'''


def _nobody_python() -> str | None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if not os.path.exists(cand):
            continue
        probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cand, "-c",
                                "import sys; print(sys.version_info >= (3, 11))"],
                               capture_output=True, text=True, cwd="/tmp")
        if probe.stdout.strip() == "True":
            return cand
    return None


def test_unprivileged_sandbox_uses_user_namespaces():
    python = _nobody_python()
    if python is None:
        pytest.skip("needs root (to switch to nobody) and a Python >= 3.11 readable by nobody")
    marker = f"azr-nonroot-{uuid.uuid4().hex}"
    target = f"/var/tmp/azr-nonroot-{uuid.uuid4().hex}"
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", _SCRIPT,
                           str(ROOT), marker, target], capture_output=True, text=True, cwd="/tmp", timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["uid"] == 65534
    prot = out["protections"]
    if not prot.get("user_namespace"):
        pytest.skip(f"unprivileged user namespaces are not allowed here: {prot}")
    for key in ("network_namespace", "pid_namespace", "mount_namespace", "read_only_filesystem",
                "ipc_namespace", "no_new_privs"):
        assert prot[key], key
    assert prot["seccomp"] or os.uname().machine != "x86_64"
    assert not prot["allowlisted_root"] and not prot["memory_cgroup"]  # root only (README: not contained)
    ok, timeout, stray, net, write, segv, pid = out["results"]
    assert ok[:2] == ["ok", "42"]
    assert timeout[0] == "timeout"
    assert stray[0] == "ok"
    assert net[0] == "ok" and net[1] != "'connected'"
    assert write[0] == "ok" and write[1] != "'wrote'" and not os.path.exists(target)
    assert segv[0] == "killed" and "SIGSEGV" in segv[2]
    assert pid[:2] == ["ok", "1"]  # PID 1 of its own namespace
    leftovers = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert leftovers == []
