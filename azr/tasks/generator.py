"""A seeded grammar of small deterministic Python programs, with inputs to call them on.

Used to build the pretraining corpus of the bundled tiny model and, by the self-play
trainer, as a held-out validation set. Each program defines ``f`` (sometimes with a
helper) as a short typed *pipeline*: the arguments flow through 1-4 steps drawn from a
table of templates (arithmetic, conditionals, loops, comprehensions, string, list and dict
operations), and the last value is returned. Every template is deterministic (no sets of
strings, no hashing, no randomness) and guards its own edge cases (empty lists, zero
divisors), so almost every (program, input) pair runs; callers still execute them in the
sandbox to get outputs (this module never runs the code it writes).

    >>> progs = generate_programs(2, seed=0)
    >>> p = progs[0]                         # GeneratedProgram: program, inputs, message, solution
    >>> p.program.startswith("def ") and len(p.inputs) > 0
    True

Each program also comes in a *canonical* spelling (``solution``): the same steps with fixed
names (parameters by type: ``n``/``m``, ``s``/``t``, ``nums``, ``words``, ``d``; step ``k``
assigns ``v{k}``), helpers inlined, a final one-line step always returned directly. It
behaves exactly like ``program`` and is what the pretraining corpus teaches an induction
solver to write: a tiny model copies a predictable name far more reliably than a random one.

Determinism: program ``i`` of seed ``s`` depends only on ``(s, i)``, so
``generate_programs(k, s) == generate_programs(n, s)[:k]`` for ``k <= n``.
"""

from __future__ import annotations

import random
from typing import NamedTuple

# Value types the grammar tracks: int, str, list of ints, list of strs, dict str->int, bool.
TYPES = ("int", "str", "list", "slist", "dict", "bool")

#: Templates: (input type, output type, description for induction messages, source).
#: ``{s}`` is the input variable, ``{d}`` the output variable; ``{k}`` a small factor (2-5),
#: ``{c}`` a constant (0-9), ``{m}`` a modulus (2-7), ``{i}`` an index (1-3), ``{a}``/``{b}``
#: lowercase letters, ``{w}`` a short word. A template with one line and ``{d} = <expr>``
#: may be inlined into ``return <expr>``.
STEPS: tuple[tuple[str, str, str, str], ...] = (
    # int -> int
    ("int", "int", "multiply by {k} and add {c}", "{d} = {s} * {k} + {c}"),
    ("int", "int", "take the remainder modulo {m}", "{d} = {s} % {m}"),
    ("int", "int", "distance to {c}", "{d} = abs({s} - {c})"),
    ("int", "int", "subtract {c} if above {k}, else add {k}",
     "if {s} > {k}:\n    {d} = {s} - {c}\nelse:\n    {d} = {s} + {k}"),
    ("int", "int", "sum of i*{k} for i below n mod {m}",
     "{d} = 0\nfor i in range({s} % {m} + 1):\n    {d} += i * {k}"),
    ("int", "int", "sum of the decimal digits", "{d} = sum(int(ch) for ch in str(abs({s})))"),
    ("int", "int", "integer division by {k}", "{d} = {s} // {k}"),
    ("int", "int", "halve while even",
     "{d} = {s}\nwhile {d} != 0 and {d} % 2 == 0:\n    {d} = {d} // 2"),
    ("int", "int", "square minus {c}", "{d} = {s} * {s} - {c}"),
    # int -> other
    ("int", "str", "decimal string", "{d} = str({s})"),
    ("int", "str", "binary digits of n mod 64", "{d} = bin({s} % 64)[2:]"),
    ("int", "str", "the letter '{a}' repeated n mod {m} times", "{d} = '{a}' * ({s} % {m})"),
    ("int", "list", "multiples of {k} below n mod 8", "{d} = [j * {k} for j in range({s} % 8)]"),
    ("int", "list", "digits of the number", "{d} = [int(ch) for ch in str(abs({s}))]"),
    ("int", "bool", "is n mod {m} equal to {c} mod {m}", "{d} = {s} % {m} == {c} % {m}"),
    # str -> str
    ("str", "str", "reverse the string", "{d} = {s}[::-1]"),
    ("str", "str", "uppercase", "{d} = {s}.upper()"),
    ("str", "str", "replace '{a}' with '{b}'", "{d} = {s}.replace('{a}', '{b}')"),
    ("str", "str", "append '{w}'", "{d} = {s} + '{w}'"),
    ("str", "str", "drop the first {i} characters", "{d} = {s}[{i}:]"),
    ("str", "str", "sort the characters", "{d} = ''.join(sorted({s}))"),
    ("str", "str", "remove the vowels", "{d} = ''.join(ch for ch in {s} if ch not in 'aeiou')"),
    ("str", "str", "swap the case of letters and turn spaces into '{a}'",
     "{d} = ''\nfor ch in {s}:\n    if ch == ' ':\n        {d} += '{a}'\n    else:\n        {d} += ch.swapcase()"),
    ("str", "str", "shift each lowercase letter by {k}",
     "{d} = ''.join(chr((ord(ch) - 97 + {k}) % 26 + 97) if ch.islower() else ch for ch in {s})"),
    ("str", "str", "join the words with '-'", "{d} = '-'.join({s}.split())"),
    ("str", "str", "keep every second character", "{d} = {s}[::2]"),
    ("str", "str", "capitalise each word", "{d} = ' '.join(w.capitalize() for w in {s}.split())"),
    # str -> other
    ("str", "int", "length", "{d} = len({s})"),
    ("str", "int", "count of '{a}'", "{d} = {s}.count('{a}')"),
    ("str", "int", "number of vowels", "{d} = sum(1 for ch in {s} if ch in 'aeiou')"),
    ("str", "int", "position of '{a}' (-1 if absent)", "{d} = {s}.find('{a}')"),
    ("str", "int", "sum of character codes mod {m}0", "{d} = sum(ord(ch) for ch in {s}) % {m}0"),
    ("str", "list", "length of each word", "{d} = [len(w) for w in {s}.split()]"),
    ("str", "list", "character codes mod {m}", "{d} = [ord(ch) % {m} for ch in {s}]"),
    ("str", "slist", "split into words", "{d} = {s}.split()"),
    ("str", "slist", "split on '{a}'", "{d} = {s}.split('{a}')"),
    ("str", "slist", "chunks of {k} characters",
     "{d} = [{s}[j:j + {k}] for j in range(0, len({s}), {k})]"),
    ("str", "dict", "count each character",
     "{d} = {{}}\nfor ch in {s}:\n    {d}[ch] = {d}.get(ch, 0) + 1"),
    ("str", "bool", "is a palindrome", "{d} = {s} == {s}[::-1]"),
    ("str", "bool", "contains '{a}'", "{d} = '{a}' in {s}"),
    # list -> list
    ("list", "list", "multiply each by {k}", "{d} = [x * {k} for x in {s}]"),
    ("list", "list", "keep values equal to {c} mod {m}",
     "{d} = [x for x in {s} if x % {m} == {c} % {m}]"),
    ("list", "list", "sort ascending", "{d} = sorted({s})"),
    ("list", "list", "sort descending", "{d} = sorted({s}, reverse=True)"),
    ("list", "list", "reverse", "{d} = {s}[::-1]"),
    ("list", "list", "drop the first {i}", "{d} = {s}[{i}:]"),
    ("list", "list", "append {c}", "{d} = {s} + [{c}]"),
    ("list", "list", "running sums",
     "{d} = []\ntotal = 0\nfor x in {s}:\n    total += x\n    {d}.append(total)"),
    ("list", "list", "add the index to each value", "{d} = [x + j for j, x in enumerate({s})]"),
    ("list", "list", "remove duplicates keeping order",
     "{d} = []\nfor x in {s}:\n    if x not in {d}:\n        {d}.append(x)"),
    ("list", "list", "sums of neighbours", "{d} = [p + q for p, q in zip({s}, {s}[1:])]"),
    ("list", "list", "clip below at {c}", "{d} = [max(x, {c}) for x in {s}]"),
    ("list", "list", "negate odd values", "{d} = [-x if x % 2 else x for x in {s}]"),
    # list -> other
    ("list", "int", "sum", "{d} = sum({s})"),
    ("list", "int", "length", "{d} = len({s})"),
    ("list", "int", "maximum ({c} if empty)", "{d} = max({s}, default={c})"),
    ("list", "int", "minimum ({c} if empty)", "{d} = min({s}, default={c})"),
    ("list", "int", "count of values above {c}",
     "{d} = 0\nfor x in {s}:\n    if x > {c}:\n        {d} += 1"),
    ("list", "int", "product mod 1000",
     "{d} = 1\nfor x in {s}:\n    {d} = ({d} * x) % 1000"),
    ("list", "str", "join with ','", "{d} = ','.join(str(x) for x in {s})"),
    ("list", "str", "letters from values mod 26", "{d} = ''.join(chr(97 + x % 26) for x in {s})"),
    ("list", "dict", "sum values by remainder mod {m}",
     "{d} = {{}}\nfor x in {s}:\n    key = str(x % {m})\n    {d}[key] = {d}.get(key, 0) + x"),
    ("list", "bool", "all above {c}", "{d} = all(x > {c} for x in {s})"),
    ("list", "bool", "is sorted", "{d} = {s} == sorted({s})"),
    ("list", "bool", "any multiple of {m}", "{d} = any(x % {m} == 0 for x in {s})"),
    # slist -> *
    ("slist", "str", "join with spaces", "{d} = ' '.join({s})"),
    ("slist", "str", "first letters", "{d} = ''.join(w[0] for w in {s} if w)"),
    ("slist", "slist", "sort", "{d} = sorted({s})"),
    ("slist", "slist", "uppercase each", "{d} = [w.upper() for w in {s}]"),
    ("slist", "slist", "keep words longer than {i}", "{d} = [w for w in {s} if len(w) > {i}]"),
    ("slist", "slist", "sort by length", "{d} = sorted({s}, key=len)"),
    ("slist", "int", "number of words", "{d} = len({s})"),
    ("slist", "int", "total length", "{d} = sum(len(w) for w in {s})"),
    ("slist", "list", "length of each", "{d} = [len(w) for w in {s}]"),
    ("slist", "dict", "map each word to its length", "{d} = {{w: len(w) for w in {s}}}"),
    ("slist", "dict", "count words by first letter",
     "{d} = {{}}\nfor w in {s}:\n    key = w[:1]\n    {d}[key] = {d}.get(key, 0) + 1"),
    # dict -> *
    ("dict", "int", "sum of the values", "{d} = sum({s}.values())"),
    ("dict", "int", "number of keys", "{d} = len({s})"),
    ("dict", "int", "largest value ({c} if empty)", "{d} = max({s}.values(), default={c})"),
    ("dict", "list", "values sorted", "{d} = sorted({s}.values())"),
    ("dict", "slist", "keys sorted", "{d} = sorted({s})"),
    ("dict", "slist", "keys whose value exceeds {c}", "{d} = [key for key, v in {s}.items() if v > {c}]"),
    ("dict", "dict", "multiply each value by {k}", "{d} = {{key: v * {k} for key, v in {s}.items()}}"),
    ("dict", "dict", "keep even values", "{d} = {{key: v for key, v in {s}.items() if v % 2 == 0}}"),
    ("dict", "str", "key with the largest value", "{d} = max({s}, key={s}.get, default='')"),
    # bool -> *
    ("bool", "int", "1 if true else 0", "{d} = int({s})"),
    ("bool", "str", "'yes' or 'no'", "{d} = 'yes' if {s} else 'no'"),
)

#: Two-argument first steps: (type 1, type 2, output type, description, source); ``{s}`` and
#: ``{t}`` are the two parameters.
PAIR_STEPS: tuple[tuple[str, str, str, str, str], ...] = (
    ("list", "int", "list", "keep values greater than the threshold", "{d} = [x for x in {s} if x > {t}]"),
    ("list", "int", "list", "multiply each value by the factor", "{d} = [x * {t} for x in {s}]"),
    ("list", "int", "list", "rotate left by the amount",
     "if {s}:\n    r = {t} % len({s})\n    {d} = {s}[r:] + {s}[:r]\nelse:\n    {d} = []"),
    ("list", "int", "int", "count occurrences of the value", "{d} = {s}.count({t})"),
    ("str", "int", "str", "first n characters", "{d} = {s}[:{t}]"),
    ("str", "int", "str", "repeat n mod 4 times", "{d} = {s} * ({t} % 4)"),
    ("str", "int", "str", "rotate by n",
     "if {s}:\n    r = {t} % len({s})\n    {d} = {s}[r:] + {s}[:r]\nelse:\n    {d} = {s}"),
    ("int", "int", "int", "greatest common divisor",
     "p, q = abs({s}), abs({t})\nwhile q:\n    p, q = q, p % q\n{d} = p"),
    ("int", "int", "int", "larger minus smaller", "{d} = max({s}, {t}) - min({s}, {t})"),
    ("int", "int", "list", "range between the two", "{d} = list(range(min({s}, {t}), max({s}, {t})))[:10]"),
    ("str", "str", "str", "concatenate", "{d} = {s} + {t}"),
    ("str", "str", "str", "remove the characters of the second", "{d} = ''.join(ch for ch in {s} if ch not in {t})"),
    ("str", "str", "bool", "are anagrams", "{d} = sorted({s}) == sorted({t})"),
    ("str", "str", "int", "count occurrences of the second", "{d} = {s}.count({t}) if {t} else 0"),
)

#: Parameter names by type. None may be a name a template uses inside (an int parameter ``x``
#: once turned ``[x * x for x in xs]`` into squaring where the message said "multiply").
_ARG_NAMES = {
    "int": ("n", "m", "a", "num", "k"),
    "str": ("s", "text", "word", "line"),
    "list": ("nums", "arr", "xs", "lst", "values"),
    "slist": ("words", "names", "items"),
    "dict": ("d", "counts", "table", "scores"),
}
_VAR_NAMES = ("result", "out", "y", "t", "acc", "tmp", "res", "val", "b", "z", "u", "v")
_HELPER_NAMES = ("g", "helper", "step", "transform", "h")
_WORDS = ("cat", "dog", "sun", "tree", "a", "bee", "code", "zero", "moon", "red", "hi", "apple", "box", "kiwi")
_LETTERS = "abcdeilnorst"


#: Canonical parameter names by type (a second parameter of the same type takes the second).
_CANONICAL_ARGS = {"int": ("n", "m"), "str": ("s", "t"), "list": ("nums", "xs"), "slist": ("words", "ws"),
                   "dict": ("d", "e")}


class GeneratedProgram(NamedTuple):
    """A program defining ``f``, its inputs (argument-list strings), a description, and the
    program's canonical spelling (same behaviour; see the module docstring)."""

    program: str
    inputs: tuple[str, ...]
    message: str
    solution: str = ""


def _draw_values(rng: random.Random) -> dict[str, object]:
    """The template constants of one step (``{k}``, ``{c}``, ...), drawn in a fixed order."""
    return {"k": rng.randint(2, 5), "c": rng.randint(0, 9), "m": rng.randint(2, 7), "i": rng.randint(1, 3),
            "a": rng.choice(_LETTERS), "b": rng.choice(_LETTERS), "w": rng.choice(_WORDS)}


def random_value(rng: random.Random, type_: str) -> object:
    """A random argument value of one of the grammar's types (small, to keep outputs short)."""
    if type_ == "int":
        return rng.randint(-5, 40) if rng.random() < 0.8 else rng.randint(-100, 200)
    if type_ == "str":
        if rng.random() < 0.5:
            return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
        return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(0, 8)))
    if type_ == "list":
        return [rng.randint(-5, 20) for _ in range(rng.randint(0, 7))]
    if type_ == "slist":
        return [rng.choice(_WORDS) for _ in range(rng.randint(0, 5))]
    if type_ == "dict":
        keys = rng.sample(_WORDS, rng.randint(1, 4))
        return {key: rng.randint(0, 12) for key in keys}
    raise ValueError(f"no input generator for type {type_!r}")


def _indent(src: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in src.splitlines())


def _one_program(rng: random.Random, n_inputs: int) -> GeneratedProgram:
    pair = rng.random() < 0.25
    if pair:
        t1, t2, out, desc, src = rng.choice(PAIR_STEPS)
        arg_types = [t1, t2]
    else:
        t1 = rng.choice(("int", "str", "str", "list", "list", "slist", "dict"))
        arg_types = [t1]
    args: list[str] = []
    for t in arg_types:
        name = rng.choice([n for n in _ARG_NAMES[t] if n not in args])
        args.append(name)
    canon_args = [_CANONICAL_ARGS[t][arg_types[:k].count(t)] for k, t in enumerate(arg_types)]
    free_vars = [v for v in _VAR_NAMES if v not in args]
    rng.shuffle(free_vars)

    body: list[str] = []
    canon: list[str] = []  # the same steps, canonical names, no helpers
    rename = dict(zip(args, canon_args))
    helpers: list[str] = []
    descs: list[str] = []
    cur_var, cur_type, canon_var = args[0], arg_types[0], canon_args[0]
    n_steps = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
    for step in range(n_steps):
        dst, canon_dst = free_vars.pop(), f"v{step + 1}"
        rename[dst] = canon_dst
        if step == 0 and pair:
            values = _draw_values(rng)
            code = src.format(s=args[0], t=args[1], d=dst, **values)
            canon.append(src.format(s=canon_args[0], t=canon_args[1], d=canon_dst, **values))
            descs.append(desc)
            cur_type = out
        else:
            options = [s for s in STEPS if s[0] == cur_type]
            _, out_type, desc_t, src_t = rng.choice(options)
            values = _draw_values(rng)
            descs.append(desc_t.format(**values))
            canon.append(src_t.format(s=canon_var, d=canon_dst, **values))
            if rng.random() < 0.2 and len(helpers) < 2:  # move this step into a helper function
                hname = rng.choice([h for h in _HELPER_NAMES if not any(x.startswith(f"def {h}(") for x in helpers)])
                inner = src_t.format(s="v", d="r", **values)
                helpers.append(f"def {hname}(v):\n{_indent(inner)}\n    return r")
                code = f"{dst} = {hname}({cur_var})"
            else:
                code = src_t.format(s=cur_var, d=dst, **values)
            cur_type = out_type
        body.append(code)
        cur_var, canon_var = dst, canon_dst
    # Return the last value; inline a final one-line assignment; sometimes return a pair.
    last, canon_last = body[-1], canon[-1]
    pair_return = None
    if "\n" not in last and last.startswith(f"{cur_var} = ") and rng.random() < 0.6:
        body[-1] = "return " + last[len(cur_var) + 3 :]
    elif len(body) >= 2 and rng.random() < 0.15:
        prev = body[-2].split("\n")[-1].split(" = ")[0].strip()
        body.append(f"return ({prev}, {cur_var})" if prev.isidentifier() else f"return {cur_var}")
        pair_return = rename.get(prev, prev) if prev.isidentifier() else None
    else:
        body.append(f"return {cur_var}")
    if pair_return is not None:
        canon.append(f"return ({pair_return}, {canon_var})")
    elif "\n" not in canon_last and canon_last.startswith(f"{canon_var} = "):
        canon[-1] = "return " + canon_last[len(canon_var) + 3 :]
    else:
        canon.append(f"return {canon_var}")
    fn = f"def f({', '.join(args)}):\n" + "\n".join(_indent(b) for b in body)
    program = "\n\n".join([*helpers, fn])
    solution = f"def f({', '.join(canon_args)}):\n" + "\n".join(_indent(b) for b in canon)

    inputs: list[str] = []
    for _ in range(4 * n_inputs):
        if len(inputs) == n_inputs:
            break
        text = ", ".join(repr(random_value(rng, t)) for t in arg_types)
        if text not in inputs:
            inputs.append(text)
    message = "f: " + "; then ".join(descs) + "."
    return GeneratedProgram(program=program, inputs=tuple(inputs), message=message, solution=solution)


def generate_programs(n: int, seed: int, n_inputs: int = 4) -> list[GeneratedProgram]:
    """``n`` programs with up to ``n_inputs`` distinct inputs each, deterministic in ``seed``.

    Program ``i`` depends only on ``(seed, i)`` (string seeds of ``random.Random`` are hashed
    with SHA-512, not Python's randomised ``hash``), so prefixes of a larger call agree.
    """
    if n < 0 or n_inputs < 1:
        raise ValueError(f"need n >= 0 and n_inputs >= 1, got n={n}, n_inputs={n_inputs}")
    return [_one_program(random.Random(f"azr-gen:{seed}:{i}"), n_inputs) for i in range(n)]
