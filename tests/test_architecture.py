"""The package import graph follows the layering of docs/architecture.md.

Every ``import`` / ``from ... import`` in ``azr/**/*.py`` (module level and inside functions,
``TYPE_CHECKING`` blocks included) is read with ``ast``; each module is mapped to its layer:

    0 tasks, executor (torch-free)  <-  1 rollout  <-  2 distributed (process-group plumbing)
    <-  3 rl  <-  4 selfplay (+ azr/config.py, the run's config tree)  <-  5 eval (benchmarks)
    <-  6 baselines  <-  7 analysis, pretrain, plan, cli (azr/cli.py and every
          ``azr/<pkg>/cli.py`` command module)

eval sits below baselines because the baselines refuse to train on benchmark files (they
read eval's benchmark manifest and data directory); eval itself needs only rollout,
executor, tasks and rl. An import may only point to the same or a lower layer, and the
graph between packages has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "azr"

LAYERS: dict[str, int] = {
    "tasks": 0, "executor": 0,
    "rollout": 1,
    "distributed": 2,
    "rl": 3,
    "selfplay": 4,
    "eval": 5,
    "baselines": 6,
    "analysis": 7, "pretrain": 7, "cli": 7, "plan": 7, "study": 7,
}


def node_of(module: str) -> str | None:
    """The package node of a dotted ``azr.*`` module name (None: the azr root itself)."""
    parts = module.split(".")
    if parts[0] != "azr" or len(parts) == 1:
        return None
    if parts[-1] == "cli" or parts[1] == "__main__":
        return "cli"
    if parts[1] == "config":  # composes the sections of every layer up to selfplay, read by selfplay
        return "selfplay"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, mod: str | None = None) -> list[tuple[str, int]]:
    """``(imported azr module, line)`` of every import statement in the file (``mod``: its
    dotted module name, default from its place under azr/)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = mod or module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("azr")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "azr":  # from azr import x: x is a subpackage or module
                out += [(f"azr.{a.name}", node.lineno) for a in node.names]
            elif name.startswith("azr."):
                out.append((name, node.lineno))
    return out


def package_graph() -> tuple[dict[str, set[str]], list[str]]:
    """(edges between nodes, downward-order violations as readable lines)."""
    edges: dict[str, set[str]] = {}
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        src = node_of(module_name(path))
        if src is None:
            continue
        assert src in LAYERS, f"{path}: package {src!r} has no layer in LAYERS (add it to the test and the docs)"
        for target, line in imports_of(path):
            dst = node_of(target)
            if dst is None or dst == src:
                continue
            assert dst in LAYERS, f"{path}:{line} imports {target}, whose package has no layer"
            edges.setdefault(src, set()).add(dst)
            if LAYERS[dst] > LAYERS[src]:
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} ({src}, layer {LAYERS[src]}) imports "
                           f"{target} ({dst}, layer {LAYERS[dst]})")
    return edges, bad


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a node path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_imports_only_point_downward():
    _, bad = package_graph()
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_cycle_between_packages():
    edges, _ = package_graph()
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"


def test_the_checker_sees_function_local_and_relative_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\nimport azr.tasks.types\ndef f():\n    from azr.selfplay.trainer import train\n"
                   "from azr import rl\nfrom ..rollout import hf\n", encoding="utf-8")
    got = sorted(imports_of(src, "azr.baselines.m"), key=lambda x: x[1])
    assert [n for n, _ in got] == ["azr.tasks.types", "azr.selfplay.trainer", "azr.rl", "azr.rollout"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None
