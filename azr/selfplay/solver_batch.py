"""Which buffered tasks the solver answers at a step (``selfplay.solver_source``).

- ``"previous"`` (default; the reference implementation's ``pred_data_mix_strategy:
  max_new`` with a window of one step, branch ``paper``): the solver batch of step t is
  built *before* step t's proposals exist. Up to ``k`` tasks are drawn uniformly without
  replacement from the tasks that entered the buffer at step t - 1 (at step 1: the base
  model's seed proposals, tagged step 0); the rest is drawn uniformly without replacement
  from everything the buffer held before step t (new tasks included, as in the reference).
  Only when that pool is smaller than what is missing are further rounds drawn, each
  without replacement.
- ``"current"`` (azr's earlier behaviour): this step's new valid tasks first, in proposal
  order, backfilled from the whole buffer uniformly *with* replacement.

Pure functions over buffer entries and an explicit ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from azr.selfplay.buffer import Entry

SOLVER_SOURCES = ("previous", "current")


def previous_step_tasks(entries: Sequence[Entry], step: int, k: int, rng: random.Random) -> list[Entry]:
    """``k`` entries for the solver of ``step`` under ``"previous"`` (see the module doc);
    fewer only when the buffer held nothing before ``step``."""
    if k <= 0:
        return []
    pool = [e for e in entries if e.step < step]
    recent = [e for e in pool if e.step == step - 1]
    out = rng.sample(recent, min(k, len(recent)))
    while len(out) < k and pool:
        out += rng.sample(pool, min(k - len(out), len(pool)))
    return out


def current_step_tasks(entries: Sequence[Entry], fresh: Sequence[Entry], k: int,
                       rng: random.Random) -> list[Entry]:
    """``k`` entries under ``"current"``: ``fresh`` (this step's new tasks) first, the rest
    drawn from ``entries`` uniformly with replacement."""
    out = list(fresh[:k])
    if entries:
        out += [entries[rng.randrange(len(entries))] for _ in range(k - len(out))]
    return out


def select_solver_tasks(source: str, entries: Sequence[Entry], fresh: Sequence[Entry], step: int, k: int,
                        rng: random.Random) -> list[Entry]:
    """Dispatch on ``selfplay.solver_source``."""
    if source == "previous":
        return previous_step_tasks(entries, step, k, rng)
    if source == "current":
        return current_step_tasks(entries, fresh, k, rng)
    raise ValueError(f"selfplay.solver_source must be one of {SOLVER_SOURCES}, got {source!r}")
