"""Stream the tensors of a Hugging Face checkpoint as raw bytes, chunk by chunk (torch-free).

A checkpoint is an HF folder with ``model.safetensors``, or several shards listed by
``model.safetensors.index.json``, or a single ``*.safetensors`` file. We read the
safetensors header ourselves (8-byte little-endian length, then JSON with ``dtype``,
``shape`` and ``data_offsets`` per tensor) and fetch byte ranges with ``os.preadv`` into a
reusable buffer. Why not ``safe_open(...).get_tensor``: that materialises a whole tensor in
a framework dtype (numpy has no bfloat16; torch would be a 1.5 s import for a CLI), while
comparing *stored bits* chunk by chunk is exact for every dtype and keeps memory at two
chunk buffers, whatever the model size. Headers are checked (offsets inside the file,
sizes matching dtype x shape) before any data is read.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Bytes per element of each safetensors dtype.
DTYPE_SIZES: dict[str, int] = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}
#: Unsigned integer numpy dtype of each element width (for bit-exact comparison).
UINT_OF_WIDTH = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or does not match the one it is compared with."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor's bytes live."""

    name: str
    dtype: str  # safetensors dtype string, e.g. "BF16"
    shape: tuple[int, ...]
    file: Path  # the shard holding it
    start: int  # absolute byte offset of the first element in ``file``
    nbytes: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return DTYPE_SIZES[self.dtype]


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Parse one ``.safetensors`` file's header -> {name: TensorInfo}; ``__metadata__`` dropped."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise CheckpointError(f"{path}: too short to be a safetensors file")
            (hlen,) = struct.unpack("<Q", raw)
            if hlen > size - 8:
                raise CheckpointError(f"{path}: header length {hlen} exceeds the file size")
            header = json.loads(f.read(hlen))
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: malformed safetensors header ({e})") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: malformed safetensors header (not a JSON object)")
    base = 8 + hlen
    out: dict[str, TensorInfo] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = meta.get("dtype")
            shape = tuple(int(d) for d in meta["shape"])
            begin, end = (int(x) for x in meta["data_offsets"])
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed header entry for {name!r} ({e!r})") from e
        if dtype not in DTYPE_SIZES:
            raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        info = TensorInfo(name, dtype, shape, path, base + begin, end - begin)
        if info.nbytes != info.numel * info.itemsize or base + end > size:
            raise CheckpointError(f"{path}: tensor {name!r} has inconsistent offsets")
        out[name] = info
    return out


def weight_files(checkpoint: Path) -> list[Path]:
    """The safetensors files of a checkpoint folder (or the file itself), sorted."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_file():
        if checkpoint.suffix != ".safetensors":
            raise CheckpointError(f"{checkpoint}: not a .safetensors file")
        return [checkpoint]
    if not checkpoint.is_dir():
        raise CheckpointError(f"{checkpoint}: no such checkpoint folder or file")
    index = checkpoint / INDEX_NAME
    if index.exists():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as e:
            raise CheckpointError(f"{index}: malformed index ({e})") from e
        files = sorted({checkpoint / f for f in weight_map.values()})
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            raise CheckpointError(f"{checkpoint}: shards listed in the index are missing: {missing}")
        return files
    if (checkpoint / SINGLE_NAME).exists():
        return [checkpoint / SINGLE_NAME]
    files = sorted(checkpoint.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{checkpoint}: no *.safetensors weights (is it an HF checkpoint folder?)")
    return files


def list_tensors(checkpoint: Path) -> dict[str, TensorInfo]:
    """All tensors of a checkpoint across its shards; a name in two shards is an error."""
    out: dict[str, TensorInfo] = {}
    for f in weight_files(checkpoint):
        for name, info in read_header(f).items():
            if name in out:
                raise CheckpointError(f"{checkpoint}: tensor {name!r} appears in two shards")
            out[name] = info
    return out


def read_config(checkpoint: Path) -> dict:
    """``config.json`` of a checkpoint folder, or {} when there is none."""
    path = Path(checkpoint)
    path = path / "config.json" if path.is_dir() else path.parent / "config.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: malformed config.json ({e})") from e


class ChunkReader:
    """Reads consecutive byte ranges of one tensor into a reusable buffer.

    ``chunks(info)`` yields numpy views (unsigned ints of the element width), each of at
    most ``chunk_bytes`` bytes; a view is valid until the next one is produced.
    """

    def __init__(self, chunk_bytes: int = 64 << 20):
        if chunk_bytes < 8:
            raise ValueError("chunk_bytes must be at least 8")
        self.chunk_bytes = chunk_bytes - chunk_bytes % 8
        self._buf = bytearray(self.chunk_bytes)
        self._fds: dict[Path, int] = {}

    def _fd(self, path: Path) -> int:
        if path not in self._fds:
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger kernel readahead
            self._fds[path] = fd
        return self._fds[path]

    def chunks(self, info: TensorInfo):
        fd = self._fd(info.file)
        uint = UINT_OF_WIDTH[info.itemsize]
        pos, end = info.start, info.start + info.nbytes
        while pos < end:
            n = min(self.chunk_bytes, end - pos)
            if pos + n < end:  # start fetching the next chunk while this one is compared
                os.posix_fadvise(fd, pos + n, min(self.chunk_bytes, end - pos - n), os.POSIX_FADV_WILLNEED)
            view = memoryview(self._buf)[:n]
            got = 0
            while got < n:
                r = os.preadv(fd, [view[got:]], pos + got)
                if r == 0:
                    raise CheckpointError(f"{info.file}: unexpected end of file in {info.name!r}")
                got += r
            pos += n
            yield np.frombuffer(self._buf, dtype=uint, count=n // info.itemsize)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> "ChunkReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
