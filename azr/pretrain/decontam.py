"""Decontamination: keep benchmark text out of the pretraining corpus.

Every string field of every benchmark record under the data directory (HumanEval(+), MBPP(+),
CRUXEval, LiveCodeBench, the math sets, ...) is split into *words* (identifiers, numbers and
single punctuation characters, as in ``WORD_RE``) and all its word n-grams (n = 13 by
default, the usual choice since GPT-3) are hashed into a set. A corpus document that shares
even one n-gram with that set is dropped. Hashes are 64-bit BLAKE2b digests, so accidental
collisions are negligible at these sizes.

Torch-free; reads ``.json``, ``.jsonl`` and ``.jsonl.gz`` files and skips everything else
(licences, manifests).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")


def words(text: str) -> list[str]:
    """The word tokens of ``text`` (identifiers, digit runs, single punctuation marks)."""
    return WORD_RE.findall(text)


def ngram_hashes(text: str, n: int) -> set[int]:
    """64-bit hashes of every word n-gram of ``text`` (empty when it has fewer than n words)."""
    w = words(text)
    out: set[int] = set()
    for i in range(len(w) - n + 1):
        gram = "\x1f".join(w[i : i + n]).encode("utf-8")
        out.add(int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "little"))
    return out


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _records(path: Path) -> Iterator[object]:
    name = path.name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
            for line in fh:
                if line.strip():
                    yield json.loads(line)
        else:
            yield json.load(fh)


def benchmark_files(data_dir: str | Path) -> list[Path]:
    """The benchmark data files under ``data_dir`` (sorted; manifests excluded)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"benchmark data directory not found: {root}")
    keep = (".json", ".jsonl", ".jsonl.gz")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(keep) and p.name != "manifest.jsonl")


@dataclass
class BenchmarkIndex:
    """Word n-gram hashes of a set of benchmark files."""

    n: int
    hashes: set[int] = field(default_factory=set)
    files: list[str] = field(default_factory=list)

    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int = 13) -> "BenchmarkIndex":
        index = cls(n=n)
        for t in texts:
            index.hashes |= ngram_hashes(t, n)
        return index

    @classmethod
    def from_data_dir(cls, data_dir: str | Path, n: int = 13) -> "BenchmarkIndex":
        index = cls(n=n)
        for path in benchmark_files(data_dir):
            for record in _records(path):
                for s in _strings(record):
                    index.hashes |= ngram_hashes(s, n)
            index.files.append(str(path.relative_to(data_dir)))
        return index

    def overlaps(self, text: str) -> bool:
        """True when ``text`` shares at least one word n-gram with the benchmarks."""
        w = words(text)
        for i in range(len(w) - self.n + 1):
            gram = "\x1f".join(w[i : i + self.n]).encode("utf-8")
            if int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "little") in self.hashes:
                return True
        return False


@dataclass(frozen=True)
class DecontamReport:
    """What decontamination removed."""

    n: int
    benchmark_files: tuple[str, ...]
    benchmark_ngrams: int
    documents_in: int
    documents_dropped: int
    chars_dropped: int

    def to_dict(self) -> dict:
        return {
            "ngram": self.n,
            "benchmark_files": list(self.benchmark_files),
            "benchmark_ngrams": self.benchmark_ngrams,
            "documents_in": self.documents_in,
            "documents_dropped": self.documents_dropped,
            "chars_dropped": self.chars_dropped,
        }


def decontaminate(docs: list[str], index: BenchmarkIndex) -> tuple[list[str], DecontamReport]:
    """Drop documents overlapping the benchmarks; returns (kept documents, report)."""
    kept: list[str] = []
    dropped = chars = 0
    for d in docs:
        if index.overlaps(d):
            dropped += 1
            chars += len(d)
        else:
            kept.append(d)
    report = DecontamReport(
        n=index.n,
        benchmark_files=tuple(index.files),
        benchmark_ngrams=len(index.hashes),
        documents_in=len(docs),
        documents_dropped=dropped,
        chars_dropped=chars,
    )
    return kept, report
