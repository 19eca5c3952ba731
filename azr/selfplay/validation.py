"""Held-out accuracy during training: greedy solver accuracy on held-out tasks.

(Not to be confused with the sandbox *validation* of proposals, ``CodeEnv.validate_proposals``.)

As in the reference code's in-training validation (its ``test_answer.parquet``, built by
``data_construction/process_code_reasoning_data.py``, branch paper), the sets are CRUXEval-O
(deduction: predict the output) and CRUXEval-I (abduction: find an input) when
``cruxeval/cruxeval.jsonl`` is in the data directory (``run.data_dir``, ``AZR_DATA_DIR``, or
``~/.cache/azr/data``: ``azr.rl.rundir.data_dir``, the rule ``azr eval`` uses),
and LiveCodeBench-execution when ``livecodebench/execution.jsonl`` is there (rows of the
``livecodebench/execution`` test split: ``code``, ``input`` as a call ``name(args)``,
``output``): ``lcb_execution_i`` asks for an input as the reference does with these rows,
``lcb_execution_o`` for the output (the benchmark's own task). A LiveCodeBench set whose file
is absent is skipped, and the log says so. Without CRUXEval, held-out tasks
come from the program generator (``azr.tasks.generator``) under a seed reserved for
validation, with outputs computed in the sandbox; the set name then says so
(``gen_o`` / ``gen_i``); the grammar is small, so a held-out program may coincide with one
of the bundled model's pretraining programs (another seed of the same grammar): these sets
track progress, they are not a contamination-free benchmark. The same ``val_size`` items are used at every validation (chosen by
a fixed seed), answers are decoded greedily, and graded in the sandbox. Logged as
``val/<set>/accuracy``.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from azr.selfplay.solve import grade, solver_prompts
from azr.tasks.parsing import ProposalParse
from azr.tasks.types import TaskType, Triplet

log = logging.getLogger(__name__)

#: Generator seed of the held-out validation programs (the pretraining corpus must not use it).
VALIDATION_GENERATOR_SEED = 987_654_321

_SETS = {"cruxeval_o": (TaskType.DEDUCTION, "gen_o"), "cruxeval_i": (TaskType.ABDUCTION, "gen_i")}
#: LiveCodeBench-execution sets: task type; used only when the data file is present.
_LCB_SETS = {"lcb_execution_i": TaskType.ABDUCTION, "lcb_execution_o": TaskType.DEDUCTION}
LCB_EXECUTION_FILE = Path("livecodebench") / "execution.jsonl"
VAL_SET_NAMES = (*_SETS, *_LCB_SETS)

#: Imports the LiveCodeBench-execution programs use without writing them (LeetCode's
#: implicit environment; the reference adds them by substring tests).
_LCB_HEADER = ("from typing import *\nfrom collections import *\nfrom itertools import *\n"
               "from functools import *\nfrom heapq import *\nfrom bisect import *\nfrom math import *\n"
               "import collections, itertools, functools, heapq, bisect, math, string, re\n")


@dataclass(frozen=True)
class ValSet:
    """A named held-out set of tasks of one type."""

    name: str
    task_type: TaskType
    tasks: tuple[Triplet, ...]


def data_dir(configured: str) -> Path:
    """The benchmark data directory (``azr.rl.rundir.data_dir``: the same rule as ``azr eval``)."""
    from azr.rl.rundir import data_dir as resolve

    return resolve(configured)


def load_cruxeval(root: Path, size: int, seed: int) -> list[Triplet]:
    """``size`` CRUXEval items (a fixed seeded choice) as triplets."""
    rows = [json.loads(line) for line in (root / "cruxeval" / "cruxeval.jsonl").read_text().splitlines() if line.strip()]
    triplets = [Triplet(r["code"], r["input"], r["output"]) for r in rows]
    if size >= len(triplets):
        return triplets
    return random.Random(f"val:{seed}").sample(triplets, size)


def lcb_execution_triplet(row: dict) -> Triplet | None:
    """One LiveCodeBench-execution row as a triplet: the function the input calls renamed to
    ``f`` (definition and recursive calls), the call's arguments as the input, the implicit
    imports prepended. None for a row that does not fit (no such top-level function, an input
    that is not one call of it). Benchmark data only: nothing is executed here."""
    import ast

    code, call, output = row.get("code"), row.get("input"), row.get("output")
    if not all(isinstance(v, str) for v in (code, call, output)):
        return None
    try:
        expr = ast.parse(call.strip(), mode="eval").body
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Name):
        return None
    name = expr.func.id
    if not any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body):
        return None

    class _Rename(ast.NodeTransformer):
        def visit_FunctionDef(self, node):
            self.generic_visit(node)
            if node.name == name:
                node.name = "f"
            return node

        def visit_Name(self, node):
            if node.id == name:
                node.id = "f"
            return node

    program = _LCB_HEADER + ast.unparse(_Rename().visit(tree))
    args = [ast.unparse(a) for a in expr.args] + [ast.unparse(k) for k in expr.keywords]
    return Triplet(program, ", ".join(args), output.strip())


def load_lcb_execution(root: Path, size: int, seed: int) -> list[Triplet]:
    """``size`` LiveCodeBench-execution rows (a fixed seeded choice) as triplets."""
    rows = [json.loads(line) for line in (root / LCB_EXECUTION_FILE).read_text().splitlines() if line.strip()]
    triplets = [t for t in (lcb_execution_triplet(r) for r in rows) if t is not None]
    if len(triplets) < len(rows):
        log.info("LiveCodeBench-execution: %d of %d rows do not fit the triplet form: left out",
                 len(rows) - len(triplets), len(rows))
    if size >= len(triplets):
        return triplets
    return random.Random(f"val:{seed}").sample(triplets, size)


def generated_tasks(env, size: int) -> list[Triplet]:
    """``size`` generator programs with one input each, outputs from the sandbox."""
    from azr.tasks.generator import generate_programs

    progs = generate_programs(size * 2, seed=VALIDATION_GENERATOR_SEED, n_inputs=1)
    items = [(TaskType.DEDUCTION, ProposalParse(True, program=p.program, input=p.inputs[0]), None) for p in progs]
    checked = env.validate_proposals(items, n_inputs=1, min_pairs=1)
    return [task for task, _ in checked if task is not None][:size]


def build_heldout_sets(names: tuple[str, ...], size: int, data_dir_setting: str, seed: int, env) -> list[ValSet]:
    """The configured validation sets (CRUXEval when present, else generator-made)."""
    if size == 0 or not names:
        return []
    root = data_dir(data_dir_setting)
    have_crux = root is not None and (root / "cruxeval" / "cruxeval.jsonl").is_file()
    if not have_crux:
        log.info("CRUXEval not found in the data directory (%s): validating on generator-made held-out tasks",
                 root)
    generated: list[Triplet] | None = None
    out = []
    for name in names:
        if name in _LCB_SETS:
            if root is None or not (root / LCB_EXECUTION_FILE).is_file():
                log.info("validation set %s skipped: %s not in the data directory (%s)", name,
                         LCB_EXECUTION_FILE, root)
                continue
            out.append(ValSet(name, _LCB_SETS[name], tuple(load_lcb_execution(root, size, seed))))
            continue
        task_type, gen_name = _SETS[name]
        if have_crux:
            out.append(ValSet(name, task_type, tuple(load_cruxeval(root, size, seed))))
        else:
            generated = generated if generated is not None else generated_tasks(env, size)
            out.append(ValSet(gen_name, task_type, tuple(generated)))
    return out


def heldout_accuracy(engine, env, val_sets: list[ValSet], rollout_cfg, template_set: str = "reference",
                     answer_format: str = "reference") -> dict[str, float]:
    """Greedy solver accuracy on each set: ``{"val/<set>/accuracy": a}`` (``rollout_cfg``: the
    ``RolloutConfig`` whose length limit and stop strings apply; decoding is greedy;
    ``template_set`` / ``answer_format``: the self-play config's)."""
    from dataclasses import replace

    metrics: dict[str, float] = {}
    params = replace(rollout_cfg.sampling_params(1, seed=0), temperature=0.0)
    for vs in val_sets:
        if not vs.tasks:
            continue
        outs = engine.generate(solver_prompts(vs.task_type, vs.tasks, template_set), params)
        grades = grade(env, vs.task_type, vs.tasks, [o[0] for o in outs], answer_format)
        metrics[f"val/{vs.name}/accuracy"] = sum(g.correct for g in grades) / len(grades)
        metrics[f"val/{vs.name}/format_error_rate"] = sum(g.outcome.value == "format_error" for g in grades) / len(grades)
    return metrics
