"""A generator-made dataset: the default RLVR/SFT data of the ``tiny`` preset (torch-free).

Programs come from ``azr.tasks.generator``; their outputs are computed by really running
them in the sandbox (twice, in two different worker processes; a pair whose two results
differ, fail, or are too long is dropped). Program ``i`` becomes a problem of task type
``TASK_TYPES[i % 3]``, so the three types are balanced:

- deduction / abduction: the triplet of the program's first surviving input;
- induction: all surviving pairs (at least 4, half visible), with the generator's
  description as the message.
"""

from __future__ import annotations

from azr.baselines.dataset import Problem
from azr.executor import ExecutorConfig, Job, Sandbox, parse_literal
from azr.tasks import TASK_TYPES, InductionTask, TaskType, Triplet
from azr.tasks.generator import generate_programs

#: Seed offset so that the default dataset differs from the generator's other uses.
DATASET_SEED_BASE = 80_000


def _literal_ok(text: str, max_chars: int) -> bool:
    """The output reads back as a value (the executor's safe parser; never executes code)."""
    return parse_literal(text, max_chars)[0]


def generated_problems(
    n: int,
    seed: int = 0,
    *,
    sandbox: Sandbox | None = None,
    executor: ExecutorConfig | None = None,
    n_inputs: int = 6,
    max_output_chars: int = 120,
) -> list[Problem]:
    """About ``n`` problems (fewer if some programs fail), deterministic in ``seed``.

    Uses ``sandbox`` if given, else starts one from ``executor`` (defaults) and closes it.
    """
    if n < 1:
        raise ValueError(f"need n >= 1 problems, got {n}")
    programs = generate_programs(n, seed=DATASET_SEED_BASE + seed, n_inputs=n_inputs)
    jobs, index = [], []
    for i, prog in enumerate(programs):
        for j, inp in enumerate(prog.inputs):
            for replica in (0, 1):
                jobs.append(Job(code=prog.program, expr=f"f({inp})", timeout_s=2.0, replica=replica))
            index.append((i, j))
    own = sandbox is None
    box = Sandbox(executor or ExecutorConfig()) if own else sandbox
    try:
        results = box.run(jobs)
    finally:
        if own:
            box.close()
    outputs: dict[int, list[tuple[str, str]]] = {}
    for k, (i, j) in enumerate(index):
        a, b = results[2 * k], results[2 * k + 1]
        if a.ok and b.ok and a.value == b.value and _literal_ok(a.value, max_output_chars):
            outputs.setdefault(i, []).append((programs[i].inputs[j], a.value))
    problems: list[Problem] = []
    for i, prog in enumerate(programs):
        pairs = outputs.get(i, [])
        task_type = TASK_TYPES[i % len(TASK_TYPES)]
        if task_type is TaskType.INDUCTION:
            if len(pairs) >= 4:
                problems.append(Problem(task_type, InductionTask(prog.program, tuple(pairs), prog.message)))
        elif pairs:
            problems.append(Problem(task_type, Triplet(prog.program, *pairs[0])))
    return problems
