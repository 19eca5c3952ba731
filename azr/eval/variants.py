"""Systematically broken variants of canonical solutions, to check a scorer against a
reference harness (used by the agreement tests and ``benchmarks/eval.py``). Each variant is
a HumanEval-style ``completion`` (appended to the prompt)."""

from __future__ import annotations

# First applicable operator mutation wins (text level; the canonical code is trusted data).
_MUTATIONS = ((" <= ", " < "), (" < ", " <= "), (" >= ", " > "), (" > ", " >= "), (" == ", " != "),
              (" + 1", " + 2"), (" - 1", " - 2"), (" + ", " - "), (" and ", " or "), ("True", "False"))


def mutate_operator(code: str) -> str | None:
    for old, new in _MUTATIONS:
        if old in code:
            return code.replace(old, new, 1)
    return None


def variants(canonical: str, entry_point: str, *, full_function: bool = False,
             loops: bool = False) -> dict[str, str]:
    """name -> completion: the canonical solution and broken versions of it.

    - ``return_none`` / ``raise`` / ``exit``: fail everywhere;
    - ``operator``: one operator flipped (often passes some tests, fails others);
    - ``wrapper``: correct except that int results are off by one on some inputs
      (typically passes the base tests and fails the plus tests, or vice versa);
    - ``loop`` (only with ``loops=True``): never returns (timeouts; costly).

    ``full_function``: the prompt holds no ``def`` (MBPP+), so body-only variants get one.
    """
    head = f"def {entry_point}(*args, **kwargs):\n" if full_function else ""
    out = {"canonical": canonical}
    out["return_none"] = head + "    return None\n"
    out["raise"] = head + "    raise ValueError('broken')\n"
    out["exit"] = head + "    import sys\n    sys.exit(0)\n"
    mutated = mutate_operator(canonical)
    if mutated is not None:
        out["operator"] = mutated
    out["wrapper"] = (
        canonical
        + f"\n\n_azr_orig = {entry_point}\n\n"
        + f"def {entry_point}(*args, **kwargs):\n"
        + "    result = _azr_orig(*args, **kwargs)\n"
        + "    if type(result) is int and len(repr(args)) % 3 == 0:\n"
        + "        return result + 1\n"
        + "    return result\n"
    )
    if loops:
        out["loop"] = head + "    while True:\n        pass\n"
    return out
