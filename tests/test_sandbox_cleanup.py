"""Temp-dir clean-up of the fallback paths (no per-program tmpfs): whatever a program leaves,
its files go, or the worker retires and is replaced; the next program never notices.

As root with the allowlisted view each program's /tmp is a tmpfs that vanishes with it
(``tests/test_sandbox_containment.py``); these tests cover the clean-up that the non-root
and ``isolate_mounts=False`` paths rely on.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import textwrap
from pathlib import Path

from azr.executor import ExecutorConfig, Job, Sandbox

_spec = importlib.util.spec_from_file_location(
    "azr_worker_script", Path(__file__).resolve().parents[1] / "azr" / "executor" / "_worker.py")
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


def _deep_tree(top: Path, depth: int) -> None:
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):  # deeper than PATH_MAX allows as one path
            os.mkdir("d" * 50, dir_fd=fd)
            nfd = os.open("d" * 50, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.mkfifo("fifo", dir_fd=fd)
        os.mkdir("locked", dir_fd=fd)
        with open(os.open("locked/f", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd), "w") as fh:
            fh.write("x")
        os.chmod("locked", 0, dir_fd=fd)
    finally:
        os.close(fd)


def test_remove_tree_handles_depth_locks_fifos_sockets_and_links(tmp_path):
    keep = tmp_path / "outside.txt"
    keep.write_text("keep me")
    junk = tmp_path / "run"
    junk.mkdir()
    _deep_tree(junk, 200)  # 200 * 51 characters: beyond PATH_MAX
    (junk / "link").symlink_to(keep)
    (junk / "dirlink").symlink_to(tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(junk / "s.sock"))
    sock.close()
    os.chmod(junk, 0)
    worker._remove_tree(str(junk))
    assert not junk.exists()
    assert keep.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt"]


def test_fallback_temp_dir_is_clean_for_the_next_program():
    junk = textwrap.dedent("""
        import os
        base = os.getcwd()
        os.mkfifo('fifo')
        os.mkdir('locked')
        open('locked/f', 'w').write('x')
        os.chmod('locked', 0)
        try:
            for i in range(200):  # 8,000 characters deep
                os.mkdir('d' * 40)
                os.chdir('d' * 40)
        except OSError:
            pass
        os.chdir(base)
        """)
    with Sandbox(ExecutorConfig(workers=1, isolate_mounts=False, timeout_s=5.0)) as sb:
        assert not sb.protections["mount_namespace"]
        res = sb.run([Job(junk, "1", replica=0), Job("import os", "sorted(os.listdir('.'))", replica=0),
                      Job(junk, "1", replica=0), Job("x = 2", "x", replica=0)])
        assert [r.value for r in res] == ["1", "[]", "1", "2"], res
