"""Safe parsing and comparison of Python literals (the only way values enter the caller).

Values produced by programs cross the process boundary as ``repr`` strings. The caller
never evaluates them: it parses them with ``ast.literal_eval`` under a size cap, catching
every failure (syntax, nesting depth, oversized integers, memory).
"""

from __future__ import annotations

import ast

#: Default cap on the length of a literal parsed in the caller.
MAX_LITERAL_CHARS = 100_000


def parse_literal(text: str, max_chars: int = MAX_LITERAL_CHARS) -> tuple[bool, object]:
    """``(True, value)`` if ``text`` is a Python literal of at most ``max_chars`` characters,
    else ``(False, reason)`` where reason is ``"not_a_string"``, ``"too_long"`` or
    ``"not_literal"``. Never raises."""
    if not isinstance(text, str):
        return False, "not_a_string"
    if len(text) > max_chars:
        return False, "too_long"
    try:
        return True, ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, OverflowError):
        return False, "not_literal"


def literal_equal(a: object, b: object) -> bool:
    """Python ``==`` on two parsed literals (``1 == 1.0``, ``'1' != 1``); never raises."""
    try:
        return bool(a == b)
    except (RecursionError, MemoryError, TypeError, ValueError):
        return False
