"""Static checks of model-written programs and inputs (a reward filter, not a security boundary).

The checks reject programs that would make a task meaningless or unsafe to reward. Two
named rule sets (``RULES``) say which modules are banned:

- ``"reference"`` (the default): the Absolute Zero reference's list (``banned_words`` of
  ``absolute_zero_reasoner/configs/azr_ppo_trainer.yaml``, branch ``paper``: ``logging``,
  ``random``, ``multiprocessing``, ``pebble``, ``subprocess``, ``threading``, ``datetime``,
  ``time``, ``hashlib``, ``hmac``, ``bcrypt``, ``calendar``, and the dotted ``os.sys``,
  ``os.path``, ``sys.exit``, ``os.environ`` that its module-name check can never match but
  that we apply as meant), plus ``SANDBOX_INTEGRITY_MODULES`` (interpreter internals, ctypes,
  sockets, signals: a deliberate addition, see docs/fidelity.md). ``os``, ``sys`` and
  ``numpy`` are *not* banned, as in the reference; the sandbox contains what ``os`` can do.
  Like the reference's executor, any source text containing ``input(`` is refused.
- ``"strict"``: azr's earlier, longer list (``os``, ``sys``, ``numpy``, ``io``, ``types`` ...),
  no text rule.

In both sets the usual escape hatches are refused (``eval``, ``exec``, ``open``,
``__import__``, ``().__class__.__bases__[0].__subclasses__()`` ...): the reference accepts
them; we do not, so that model output never reaches the interpreter's internals. Aliasing is
caught because imports are checked by module, not by the name they are bound to. The sandbox
in ``azr.executor.sandbox`` is what actually contains a program that gets past these checks.

Unlike the reference code's "single def" regex, nested functions and classes are allowed
here; the only structural requirement is a top-level ``def f``. The proposer-side rule of one
top-level function (and renaming it to ``f``) is applied when a proposal is parsed
(``azr.tasks.parsing.normalize_entry``).

Every function returns a ``CheckResult`` with a stable short ``reason`` code
(``syntax_error``, ``forbidden_import:os``, ``forbidden_call:eval``, ``forbidden_text:input(``,
...) and a detail string.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from azr.tasks.types import REFERENCE_BANNED_KEYWORDS

#: azr's earlier list (rule set "strict"): AZR's list plus dangerous modules.
STRICT_FORBIDDEN_MODULES: frozenset[str] = frozenset(
    {
        # Absolute Zero reference list
        "logging", "random", "multiprocessing", "pebble", "subprocess", "threading",
        "datetime", "time", "hashlib", "hmac", "bcrypt", "calendar", "os", "sys",
        # escape hatches and side effects
        "shutil", "socket", "ctypes", "cffi", "importlib", "builtins", "__builtin__", "signal",
        "gc", "inspect", "pickle", "cPickle", "marshal", "shelve", "dbm", "io", "pathlib",
        "tempfile", "glob", "fnmatch", "asyncio", "concurrent", "_thread", "urllib", "http",
        "requests", "ftplib", "smtplib", "telnetlib", "ssl", "select", "selectors", "mmap",
        "resource", "pty", "fcntl", "termios", "posix", "nt", "pwd", "grp", "code", "codeop",
        "runpy", "pdb", "bdb", "trace", "sysconfig", "site", "zipimport", "faulthandler",
        "tracemalloc", "atexit", "types", "uuid", "secrets", "webbrowser", "sqlite3", "zipfile",
        "tarfile", "platform", "getpass", "locale", "weakref", "threadpoolctl", "numpy",
        "xmlrpc", "socketserver", "wsgiref", "email", "mailbox", "imaplib", "poplib",
        "ensurepip", "venv", "distutils", "setuptools", "pip", "sched", "queue", "contextvars",
        "linecache", "tokenize", "dis", "copyreg", "ast",
    }
)

#: The reference's ``banned_words`` (branch ``paper``), dotted entries included.
REFERENCE_BANNED_MODULES: frozenset[str] = frozenset(REFERENCE_BANNED_KEYWORDS)

#: Banned on top of the reference's list in rule set "reference": modules that reach the
#: interpreter's internals, native code, signals or the network (deliberate, documented).
SANDBOX_INTEGRITY_MODULES: frozenset[str] = frozenset(
    {
        "ctypes", "cffi", "importlib", "builtins", "__builtin__", "signal", "socket", "gc",
        "inspect", "marshal", "pickle", "cPickle", "_thread", "resource", "pty", "fcntl", "mmap",
        "faulthandler", "code", "codeop", "runpy", "pdb", "bdb", "trace", "tracemalloc",
        "atexit", "sysconfig", "site", "zipimport", "asyncio", "concurrent", "urllib", "http",
        "requests", "ftplib", "smtplib", "telnetlib", "ssl", "select", "selectors",
        "socketserver", "xmlrpc", "webbrowser", "ensurepip", "pip",
    }
)


@dataclass(frozen=True)
class StaticRules:
    """A named set of static rules: banned modules and banned source substrings."""

    name: str
    forbidden_modules: frozenset[str]
    banned_text: tuple[str, ...] = ()
    """Substrings refused anywhere in the program or input source (the reference's executor
    refuses any code matching ``input(``, comments and strings included)."""
    allow_starred_inputs: bool = True
    """Accept ``*xs`` / ``**kw`` in an input's argument list (the reference evaluates inputs
    as Python, so it accepts them)."""


RULES: dict[str, StaticRules] = {
    "reference": StaticRules("reference", REFERENCE_BANNED_MODULES | SANDBOX_INTEGRITY_MODULES,
                             banned_text=("input(",), allow_starred_inputs=True),
    "strict": StaticRules("strict", STRICT_FORBIDDEN_MODULES, banned_text=(), allow_starred_inputs=False),
}
DEFAULT_RULES = "reference"
#: Modules banned by the default rule set.
FORBIDDEN_MODULES: frozenset[str] = RULES[DEFAULT_RULES].forbidden_modules


def get_rules(rules: "str | StaticRules") -> StaticRules:
    """The ``StaticRules`` of a rule-set name (or the object itself)."""
    if isinstance(rules, StaticRules):
        return rules
    try:
        return RULES[rules]
    except KeyError:
        raise ValueError(f"unknown static rule set {rules!r}; known: {sorted(RULES)}") from None


#: Builtins that must not be called or even referenced (``e = eval`` is caught too).
FORBIDDEN_BUILTINS: frozenset[str] = frozenset(
    {
        "eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars",
        "breakpoint", "input", "exit", "quit", "help", "memoryview", "__builtins__",
        "__loader__", "__spec__", "copyright", "credits", "license",
    }
)

#: Forbidden builtins that a program may legitimately use as its own variable names
#: (``def f(input): ...``): allowed when the program binds the name itself.
SHADOWABLE_BUILTINS: frozenset[str] = frozenset(
    {"input", "open", "exit", "quit", "help", "vars", "memoryview", "copyright", "credits", "license"}
)

#: Attributes that lead from ordinary objects to frames, globals, code or the class graph.
FORBIDDEN_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "__subclasses__", "__globals__", "__builtins__", "__code__", "__closure__", "__bases__",
        "__base__", "__mro__", "__dict__", "__getattribute__", "__import__", "__loader__",
        "__spec__", "__self__", "__func__", "__reduce__", "__reduce_ex__", "__traceback__",
        "__init_subclass__", "__setattr__", "__delattr__", "__class_getitem__", "__objclass__",
        "__defaults__", "__kwdefaults__", "__wrapped__", "__module__",
        "mro", "tb_frame", "tb_next", "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
        "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code",
    }
)

#: Calls whose attribute-name argument must be a harmless string constant.
_ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})


@dataclass(frozen=True)
class CheckResult:
    """``ok`` or a short stable ``reason`` code (``forbidden_import:os``) with a ``detail``."""

    ok: bool
    reason: str = ""
    detail: str = ""

    def __bool__(self) -> bool:
        return self.ok


OK = CheckResult(True)


def _fail(reason: str, detail: str = "") -> CheckResult:
    return CheckResult(False, reason, detail)


def check_program(
    code: str,
    *,
    entry: str | None = "f",
    max_chars: int = 20_000,
    forbidden_modules: frozenset[str] | None = None,
    rules: str | StaticRules = DEFAULT_RULES,
) -> CheckResult:
    """Static checks of a program: size, syntax, a top-level ``def <entry>``, forbidden ops.

    ``rules`` names the rule set (``RULES``); ``forbidden_modules`` overrides its module list."""
    rs = get_rules(rules)
    forbidden_modules = rs.forbidden_modules if forbidden_modules is None else forbidden_modules
    if not isinstance(code, str):
        return _fail("not_a_string", type(code).__name__)
    if len(code) > max_chars:
        return _fail("program_too_long", f"{len(code)} > {max_chars} characters")
    if "\x00" in code:
        return _fail("syntax_error", "source contains a NUL byte")
    banned = _banned_text(code, rs)
    if banned is not None:
        return banned
    try:
        tree = ast.parse(code, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        return _fail("syntax_error", f"{type(e).__name__}: {e}")
    if entry is not None and not any(
        isinstance(n, ast.FunctionDef) and n.name == entry for n in tree.body
    ):
        return _fail(f"missing_function:{entry}", f"no top-level 'def {entry}(...)'")
    return check_tree(tree, forbidden_modules=forbidden_modules)


def _banned_text(source: str, rules: StaticRules, prefix: str = "") -> CheckResult | None:
    for text in rules.banned_text:
        if text in source:
            return _fail(f"{prefix}forbidden_text:{text}", f"source contains {text!r}")
    return None


def check_tree(tree: ast.AST, *, forbidden_modules: frozenset[str] = FORBIDDEN_MODULES) -> CheckResult:
    """Walk an AST and return the first forbidden construct found."""
    bound = _bound_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in SHADOWABLE_BUILTINS and node.id in bound:
            continue
        res = _check_node(node, forbidden_modules)
        if not res.ok:
            return res
    return OK


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the program binds itself (parameters, assignments, defs, imports, loops)."""
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
    return out


def _module_forbidden(name: str, forbidden: frozenset[str]) -> str | None:
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if prefix in forbidden:
            return prefix
    return None


def _check_node(node: ast.AST, forbidden: frozenset[str]) -> CheckResult:
    if isinstance(node, ast.Import):
        for alias in node.names:
            bad = _module_forbidden(alias.name, forbidden)
            if bad:
                return _fail(f"forbidden_import:{bad}", f"import {alias.name}")
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            return _fail("relative_import", f"from {'.' * node.level}{node.module or ''} import ...")
        mod = node.module or ""
        bad = _module_forbidden(mod, forbidden)
        if bad:
            return _fail(f"forbidden_import:{bad}", f"from {mod} import ...")
        for alias in node.names:
            bad = _module_forbidden(f"{mod}.{alias.name}", forbidden)
            if bad:
                return _fail(f"forbidden_import:{bad}", f"from {mod} import {alias.name}")
    elif isinstance(node, ast.Name):
        if node.id in FORBIDDEN_BUILTINS:
            kind = "forbidden_call" if not node.id.startswith("__") else "forbidden_name"
            return _fail(f"{kind}:{node.id}", f"use of {node.id}")
    elif isinstance(node, ast.Attribute):
        if node.attr in FORBIDDEN_ATTRIBUTES:
            return _fail(f"forbidden_attribute:{node.attr}", f"attribute access .{node.attr}")
    elif isinstance(node, ast.Call):
        fn = node.func
        name = fn.id if isinstance(fn, ast.Name) else None
        if name in _ATTR_FUNCS and len(node.args) >= 2:
            arg = node.args[1]
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                return _fail(f"forbidden_call:{name}", f"{name} with a computed attribute name")
            if arg.value.startswith("__") or arg.value in FORBIDDEN_ATTRIBUTES:
                return _fail(f"forbidden_attribute:{arg.value}", f"{name}(..., {arg.value!r})")
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value in FORBIDDEN_ATTRIBUTES and node.value.startswith("__"):
            return _fail(f"forbidden_attribute:{node.value}", "escape-hatch name in a string constant")
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        pass  # harmless
    return OK


@dataclass(frozen=True)
class CallArgs:
    """A checked argument list: ``source`` is normalised (``ast.unparse``) and safe to
    splice into ``f(<source>)``; ``n`` arguments in total."""

    source: str
    n: int


def check_input(
    text: str, *, literal_only: bool = False, max_chars: int = 10_000,
    rules: str | StaticRules = DEFAULT_RULES,
) -> tuple[CallArgs | None, CheckResult]:
    """Check that ``f(<text>)`` parses as one call and return its normalised arguments.

    With ``literal_only`` every argument must be a literal (``ast.literal_eval``); otherwise
    arguments may be expressions (``range(5)``, ``lambda x: x < 2``, as in CRUXEval) that
    pass the same forbidden-construct checks as programs, without ``:=`` (which would let
    an input rebind the program's globals before the call: a solver could rewire the program
    it is judged by; the reference accepts it). Starred arguments (``*xs``, ``**kw``) are
    accepted when the rule set allows them (``"reference"``), rejected under ``"strict"``.
    Statements cannot be smuggled in: the text is parsed in expression mode and re-emitted
    with ``ast.unparse``.
    """
    if not isinstance(text, str):
        return None, _fail("input_not_string", type(text).__name__)
    if len(text) > max_chars:
        return None, _fail("input_too_long", f"{len(text)} > {max_chars} characters")
    if not text.strip():
        return CallArgs("", 0), OK
    if "\x00" in text:
        return None, _fail("input_syntax_error", "input contains a NUL byte")
    rs = get_rules(rules)
    banned = _banned_text(text, rs, prefix="input_")
    if banned is not None:
        return None, banned
    try:
        tree = ast.parse(f"f({text}\n)", mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        return None, _fail("input_syntax_error", f"{type(e).__name__}: {e}")
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"):
        return None, _fail("input_not_arguments", "input is not an argument list")
    starred = any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)
    if starred and not rs.allow_starred_inputs:
        return None, _fail("input_starred", "starred arguments are not allowed")
    nodes = list(call.args) + [k.value for k in call.keywords]
    for a in nodes:
        if literal_only:
            try:
                ast.literal_eval(a)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as e:
                return None, _fail("input_not_literal", f"{type(e).__name__}: {_short(a)}")
            continue
        if any(isinstance(n, ast.NamedExpr) for n in ast.walk(a)):
            return None, _fail("input_forbidden:walrus", "assignment expressions are not allowed in inputs")
        res = check_tree(a, forbidden_modules=rs.forbidden_modules)
        if not res.ok:
            return None, _fail(f"input_{res.reason}", res.detail)
    try:
        parts = [ast.unparse(a) for a in call.args] + [
            f"{k.arg}={ast.unparse(k.value)}" if k.arg is not None else f"**{ast.unparse(k.value)}"
            for k in call.keywords]
    except (RecursionError, ValueError) as e:
        return None, _fail("input_syntax_error", f"{type(e).__name__}")
    return CallArgs(", ".join(parts), len(nodes)), OK


def _short(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:200]
    except (RecursionError, ValueError):
        return "<unprintable>"
