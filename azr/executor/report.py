"""The child -> worker -> caller result frame of the sandbox (standard library only).

A program's child process reports in a small binary frame, built by ``frame`` from
references bound when this module was loaded (a program may have patched ``builtins`` by
then). The worker does not decode it: it reads the frame into a preallocated buffer,
forwards the bytes, and zeroes the buffer, so no program output stays in the worker's
memory, where later children (forked from it) could find it. The caller parses the frame
strictly with ``parse_report``; anything malformed is that job's failure.

Frame: ``MAGIC``, one status byte (``STATUS_CODES``), then three fields (value, error type,
error message), each ``b"\\0"`` (None) or ``b"\\1"`` + 4-byte big-endian length + UTF-8 bytes.
This module is loaded by path inside the worker too (``_worker.py``).
"""

MAGIC = b"AZR\x01"
STATUS_CODES = {1: "ok", 2: "error", 3: "memory"}


def frame(status: int, fields, cap: int, *, _magic=MAGIC, _len=len, _isinstance=isinstance, _str=str,
          _bytes=bytes, _int=int) -> bytes:  # pragma: no cover - runs in the child
    """Encode a report with base-type methods bound at definition time."""
    parts = [_magic, _bytes((status,))]
    for f in fields:
        if f is None:
            parts.append(b"\0")
            continue
        data = _str.encode(f, "utf-8", "surrogatepass")[:cap] if _isinstance(f, _str) else b"<not a string>"
        parts.append(b"\1" + _int.to_bytes(_len(data), 4, "big") + data)
    return b"".join(parts)


def clean_text(data: bytes) -> str:
    """Bytes from a child as a str that is always valid UTF-8 (lone surrogates escaped)."""
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def result(status, value, error_type, error_message) -> dict:
    return {"status": status, "value": value, "error_type": error_type, "error_message": error_message}


def parse_report(buf: bytes, cap: int, want_value: bool) -> dict:
    """Strictly parse a child's frame into a result dict (ValueError on anything malformed)."""
    if len(buf) < 5 or buf[:4] != MAGIC or buf[4] not in STATUS_CODES:
        raise ValueError("bad header")
    status, pos, fields = STATUS_CODES[buf[4]], 5, []
    for _ in range(3):
        if pos >= len(buf) or buf[pos] not in (0, 1):
            raise ValueError("bad field")
        if buf[pos] == 0:
            fields.append(None)
            pos += 1
            continue
        n = int.from_bytes(buf[pos + 1 : pos + 5], "big")
        if pos + 5 > len(buf) or n > 4 * cap or pos + 5 + n > len(buf):
            raise ValueError("bad length")
        fields.append(clean_text(bytes(buf[pos + 5 : pos + 5 + n])))
        pos += 5 + n
    if pos != len(buf):
        raise ValueError("trailing bytes")
    value, etype, emsg = fields
    if status == "ok":
        if etype is not None or emsg is not None or (value is None) == want_value:
            raise ValueError("bad ok record")
        if value is not None and len(value) > cap:
            return result("error", None, "OutputTooLarge", f"repr of the result exceeds {cap} characters")
    elif value is not None or etype is None or not (0 < len(etype) <= 200) or emsg is None:
        raise ValueError("bad error record")
    return result(status, value, etype, None if emsg is None else emsg[:cap])
