"""Pure helpers of the worker script (path hiding decisions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "azr_sandbox_worker", Path(__file__).resolve().parents[1] / "azr" / "executor" / "_worker.py"
)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


def test_minimal_drops_nested_paths():
    assert worker._minimal(["/a/b", "/a", "/c/d", "/c/d/e", "/ab"]) == ["/a", "/ab", "/c/d"]


def test_system_directories_are_never_hidden(tmp_path):
    req = ["/", "/usr", "/usr/local", "/etc", "/tmp", str(tmp_path), "/nonexistent-dir-azr", ""]
    assert worker._hidden_tops(req, [], check_traverse=False) == []


def test_requested_directories_are_hidden_minimally():
    tops = worker._hidden_tops(["/work", "/work/main", "/root"], [], check_traverse=False)
    assert tops == sorted(tops, key=len) and "/work/main" not in tops
    assert {"/work", "/root"} >= set(tops)


def test_untraversable_ancestor_of_the_import_path_is_found(tmp_path):
    private = tmp_path / "home"
    (private / "py" / "lib").mkdir(parents=True)
    private.chmod(0o700)
    try:
        tops = worker._hidden_tops([], [str(private / "py" / "lib")], check_traverse=True)
    finally:
        private.chmod(0o755)
    # the highest ancestor that others cannot traverse: ``private`` itself, or a private
    # ancestor pytest created (e.g. /tmp/pytest-of-root is 0700)
    expected = next(str(p) for p in reversed([private, *private.parents]) if p != Path("/")
                    and (p == private or not p.stat().st_mode & 0o001))
    assert tops == [expected]
