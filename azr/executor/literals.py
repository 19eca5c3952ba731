"""Safe parsing and comparison of Python values written as text (answers, outputs, reports).

Values cross process boundaries as ``repr`` text, and model answers arrive as text. Neither
is ever evaluated: ``parse_literal`` walks the syntax tree and builds the value itself,
accepting only

- literals: ``None``, ``True``/``False``, ints, floats, complex numbers (``(1+2j)``), strings,
  bytes, tuples, lists, dicts, sets, and ``inf`` / ``nan`` (how ``repr`` writes them);
- the ``repr`` forms of a short whitelist of standard-library constructors, with literal
  arguments: ``set()``, ``frozenset({...})``, ``float('inf')``, ``complex(...)``,
  ``bytearray(b'..')``, ``range(0, 3)``, ``Counter({...})``, ``OrderedDict([...])``,
  ``deque([...], maxlen=n)``, ``Fraction(1, 3)``, ``Decimal('1.5')``, and ``dict(a=1)``.

Size, nesting depth and node count are capped, and every failure (syntax, depth, huge
integers, unhashable keys, memory) comes back as a reason instead of an exception. This
module imports only the standard library: the sandbox worker loads it by path too.
"""

from __future__ import annotations

import ast
import collections
import decimal
import fractions
import math

#: Default cap on the length of a text parsed as a value.
MAX_LITERAL_CHARS = 100_000
#: Deepest container nesting accepted.
MAX_DEPTH = 100
#: Most syntax-tree nodes accepted in one value.
MAX_NODES = 200_000
#: Longest string argument of ``float('..')`` / ``Decimal('..')`` / ``complex('..')``.
_MAX_NUMBER_TEXT = 400

_NAMES = {"inf": math.inf, "nan": math.nan, "infj": complex(0, math.inf), "nanj": complex(0, math.nan)}
#: Types whose values ``parse_literal`` can produce (and whose ``repr`` it parses back).
SAFE_TYPES: frozenset[type] = frozenset(
    {type(None), bool, int, float, complex, str, bytes, bytearray, tuple, list, dict, set, frozenset,
     range, collections.Counter, collections.OrderedDict, collections.deque, fractions.Fraction,
     decimal.Decimal}
)


class _Reject(Exception):
    """Internal: the text is not an accepted value."""


class _Builder:
    def __init__(self, max_depth: int, max_nodes: int):
        self.max_depth, self.nodes_left = max_depth, max_nodes

    def build(self, node: ast.AST, depth: int = 0):
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise _Reject("too many elements")
        if depth > self.max_depth:
            raise _Reject("nested too deeply")
        if isinstance(node, ast.Constant):
            if node.value is Ellipsis:
                raise _Reject("Ellipsis is not a value")
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _NAMES:
                return _NAMES[node.id]
            raise _Reject(f"name {node.id!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.build(node.operand, depth + 1)
            if type(v) not in (int, float, complex) or isinstance(node.operand, ast.UnaryOp):
                raise _Reject("sign on a non-number")
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return self._complex(node, depth)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = [self.build(e, depth + 1) for e in node.elts]
            return {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise _Reject("dict unpacking")
            return {self.build(k, depth + 1): self.build(v, depth + 1) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise _Reject(f"{type(node).__name__} is not a value")

    def _complex(self, node: ast.BinOp, depth: int) -> complex:
        left, right = self.build(node.left, depth + 1), self.build(node.right, depth + 1)
        if type(left) not in (int, float) or type(right) is not complex or isinstance(node.left, ast.BinOp):
            raise _Reject("arithmetic other than a complex literal")
        return left + right if isinstance(node.op, ast.Add) else left - right

    def _call(self, node: ast.Call, depth: int):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _CONSTRUCTORS:
            raise _Reject(f"call of {ast.dump(node.func)[:40] if name is None else name!r}")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _Reject("starred argument")
        args = [self.build(a, depth + 1) for a in node.args]
        kwargs = {k.arg: self.build(k.value, depth + 1) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise _Reject("keyword unpacking")
        return _CONSTRUCTORS[name](args, kwargs)


def _no_kw(kwargs: dict) -> None:
    if kwargs:
        raise _Reject("unexpected keyword argument")


def _container(kind, arg_types):
    def make(args, kwargs):
        _no_kw(kwargs)
        if len(args) > 1 or (args and type(args[0]) not in arg_types):
            raise _Reject(f"bad arguments of {kind.__name__}")
        return kind(*args)

    return make


def _number_from_text(kind):
    def make(args, kwargs):
        _no_kw(kwargs)
        if len(args) != 1 or type(args[0]) not in (str, int, float) or (
            type(args[0]) is str and len(args[0]) > _MAX_NUMBER_TEXT
        ):
            raise _Reject(f"bad arguments of {kind.__name__}")
        return kind(args[0])

    return make


def _fraction(args, kwargs):
    _no_kw(kwargs)
    if not 1 <= len(args) <= 2 or any(type(a) is not int for a in args) or (len(args) == 2 and args[1] == 0):
        raise _Reject("bad arguments of Fraction")
    return fractions.Fraction(*args)


def _range(args, kwargs):
    _no_kw(kwargs)
    if not 1 <= len(args) <= 3 or any(type(a) is not int for a in args) or (len(args) == 3 and args[2] == 0):
        raise _Reject("bad arguments of range")
    return range(*args)


def _deque(args, kwargs):
    if set(kwargs) - {"maxlen"} or len(args) > 1 or (args and type(args[0]) not in (list, tuple)):
        raise _Reject("bad arguments of deque")
    maxlen = kwargs.get("maxlen")
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise _Reject("bad maxlen of deque")
    return collections.deque(args[0] if args else (), maxlen)


def _complex_call(args, kwargs):
    _no_kw(kwargs)
    if not 1 <= len(args) <= 2 or any(type(a) not in (int, float) for a in args):
        if len(args) == 1 and type(args[0]) is str and len(args[0]) <= _MAX_NUMBER_TEXT:
            return complex(args[0])
        raise _Reject("bad arguments of complex")
    return complex(*args)


def _dict(args, kwargs):
    if len(args) > 1 or (args and type(args[0]) not in (dict, list, tuple)):
        raise _Reject("bad arguments of dict")
    return dict(*args, **kwargs)


_CONSTRUCTORS = {
    "dict": _dict,
    "set": _container(set, (list, tuple, set, frozenset)),
    "frozenset": _container(frozenset, (list, tuple, set, frozenset)),
    "bytearray": _container(bytearray, (bytes,)),
    "Counter": _container(collections.Counter, (dict,)),
    "OrderedDict": _container(collections.OrderedDict, (list, dict)),
    "deque": _deque,
    "float": _number_from_text(float),
    "Decimal": _number_from_text(decimal.Decimal),
    "complex": _complex_call,
    "Fraction": _fraction,
    "range": _range,
}


def _parse_tree(text: str, mode_prefix: str = "") -> ast.AST:
    return ast.parse(f"{mode_prefix}{text.strip()}\n{')' if mode_prefix else ''}", mode="eval").body


_ERRORS = (_Reject, ValueError, TypeError, SyntaxError, MemoryError, RecursionError, OverflowError,
           ArithmeticError, decimal.InvalidOperation)


def _precheck(text: object, max_chars: int) -> str:
    """The reason code for text that is refused before parsing, else ``""``."""
    if not isinstance(text, str):
        return "not_a_string"
    if len(text) > max_chars:
        return "too_long"
    if "\x00" in text:
        return "not_literal"
    return ""


def parse_literal(text: str, max_chars: int = MAX_LITERAL_CHARS, *, max_depth: int = MAX_DEPTH,
                  max_nodes: int = MAX_NODES) -> tuple[bool, object]:
    """``(True, value)`` if ``text`` is an accepted value (see the module docstring) of at most
    ``max_chars`` characters, else ``(False, reason)`` with reason ``"not_a_string"``,
    ``"too_long"`` or ``"not_literal"``. Never raises, never evaluates anything."""
    problem = _precheck(text, max_chars)
    if problem:
        return False, problem
    try:
        return True, _Builder(max_depth, max_nodes).build(_parse_tree(text))
    except _ERRORS:
        return False, "not_literal"


def explain_literal(text: str, max_chars: int = MAX_LITERAL_CHARS) -> str:
    """Why ``text`` is not an accepted value (``""`` when it is): a short human-readable reason."""
    if not isinstance(text, str):
        return "not a string"
    if len(text) > max_chars:
        return f"longer than {max_chars} characters"
    try:
        _Builder(MAX_DEPTH, MAX_NODES).build(_parse_tree(text))
        return ""
    except _Reject as e:
        return str(e)
    except (SyntaxError, ValueError) as e:
        return f"{type(e).__name__}: {str(e)[:100]}"
    except _ERRORS as e:
        return type(e).__name__


def parse_arguments(text: str, max_chars: int = MAX_LITERAL_CHARS) -> tuple[bool, object]:
    """An argument list (``1, [2], key='x'``) as data: ``(True, (args, kwargs))`` when every
    argument is an accepted value, else ``(False, reason)``. Never raises or evaluates."""
    problem = _precheck(text, max_chars)
    if problem:
        return False, problem
    if not text.strip():
        return True, ((), {})
    try:
        call = _parse_tree(text, "__args__(")
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "__args__"):
            return False, "not_arguments"
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return False, "starred"
        b = _Builder(MAX_DEPTH, MAX_NODES)
        args = tuple(b.build(a, 1) for a in call.args)
        kwargs = {k.arg: b.build(k.value, 1) for k in call.keywords}
        return True, (args, kwargs)
    except _ERRORS:
        return False, "not_literal"


def unsafe_type(value: object, max_depth: int = MAX_DEPTH) -> str | None:
    """Name of the first type inside ``value`` whose ``repr`` this module cannot parse back
    (``None`` when every part is of a ``SAFE_TYPES`` type; subclasses do not count)."""
    stack = [(value, 0)]
    seen = 0
    while stack:
        v, d = stack.pop()
        seen += 1
        t = type(v)
        if t not in SAFE_TYPES:
            return type.__dict__["__name__"].__get__(t)
        if d > max_depth or seen > MAX_NODES:
            return "<too deep or too large>"
        if t in (tuple, list, set, frozenset, collections.deque):
            stack.extend((x, d + 1) for x in v)
        elif t in (dict, collections.Counter, collections.OrderedDict):
            stack.extend((x, d + 1) for kv in dict.items(v) for x in kv)
    return None


def literal_equal(a: object, b: object) -> bool:
    """Value equality of two parsed values: Python ``==`` (``1 == 1.0``, ``'1' != 1``), or equal
    ``repr`` text (so that ``nan`` equals ``nan``, also inside containers); never raises."""
    try:
        if a == b:
            return True
    except (RecursionError, MemoryError, TypeError, ValueError, ArithmeticError):
        pass
    try:
        return type(a) is type(b) and repr(a) == repr(b)
    except (RecursionError, MemoryError, TypeError, ValueError):
        return False


def output_problem(value: object, text: str) -> str | None:
    """Why ``text`` (the ``repr`` of ``value``) cannot stand for ``value`` as a task output:
    a part of a type without a safe repr, text this module cannot parse, or a value that is
    not equal to its own repr read back (``nan``); ``None`` when it can."""
    bad = unsafe_type(value)
    if bad is not None:
        return f"a value of type {bad} has no safe repr"
    ok, back = parse_literal(text, max_chars=1 << 24)
    if not ok:
        return "its repr is not a plain value"
    try:
        if back == value:
            return None
    except (RecursionError, MemoryError, TypeError, ValueError, ArithmeticError):
        pass
    return "the value is not equal to its repr read back"
