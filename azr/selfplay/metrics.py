"""Per-step metrics of self-play, one flat dict with the keys of docs/interfaces.md.

Every (task, role) group is summarised on its own (the reference code overwrote per-role
entropy with the last sub-batch; here nothing is shared between groups). A statistic with
no samples (e.g. the difficulty of a step without valid proposals) is ``None`` -> JSON null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from azr.selfplay.buffer import Buffers
from azr.selfplay.rollouts import Rollout
from azr.tasks.types import GROUPS, TASK_TYPES, Role, group_name


def mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def std(xs: Sequence[float]) -> float | None:
    """Population standard deviation (0 for one value)."""
    if not xs:
        return None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def group_metrics(rollouts: Sequence[Rollout]) -> dict[str, float | None]:
    """Reward, accuracy/validity, format errors and response length of every group."""
    out: dict[str, float | None] = {}
    for task, role in GROUPS:
        g = group_name(task, role)
        rs = [r for r in rollouts if r.group == (task, role)]
        rewards = [r.reward for r in rs]
        lengths = [len(r.completion.token_ids) for r in rs]
        out[f"{g}/reward_mean"] = mean(rewards)
        out[f"{g}/reward_std"] = std(rewards)
        out[f"{g}/response_length_mean"] = mean(lengths)
        out[f"{g}/response_length_max"] = max(lengths) if lengths else None
        out[f"{g}/format_error_rate"] = mean([float(r.outcome == "format_error") for r in rs])
        out[f"{g}/count"] = len(rs)
        if role is Role.SOLVE:
            out[f"{g}/accuracy"] = mean([float(r.correct) for r in rs])
        else:
            out[f"{g}/valid_rate"] = mean([float(r.outcome == "passable") for r in rs])
            out[f"{g}/solve_rate"] = mean([r.solve_rate for r in rs if r.solve_rate is not None])
    return out


def buffer_metrics(buffers: Buffers, step: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in TASK_TYPES:
        b = buffers[t]
        out[f"buffer/{t.value}/size"] = len(b)
        out[f"buffer/{t.value}/distinct_programs"] = b.distinct_programs()
        out[f"buffer/{t.value}/new"] = len(b.from_step(step))
    return out


def entropy_metrics(rollouts: Sequence[Rollout], entropies: Sequence[float], lengths: Sequence[int]) -> dict:
    """Policy entropy per (role, task) and overall.

    ``entropies[i]``: the mean over response tokens of rollout i's full-distribution entropy;
    ``lengths[i]``: its response tokens. Per group: the mean over the group's prompts of that
    per-sample mean (the study's definition); overall: the same over all samples.
    """
    out: dict[str, float | None] = {}
    for task, role in GROUPS:
        vals = [e for r, e, n in zip(rollouts, entropies, lengths) if r.group == (task, role) and n > 0]
        out[f"entropy/{role.value}/{task.value}"] = mean(vals)
    out["entropy/overall"] = mean([e for e, n in zip(entropies, lengths) if n > 0])
    return out


def advantage_metrics(rollouts: Sequence[Rollout], seq_advantages: Sequence[float]) -> dict:
    """Mean/std of the per-sequence advantage within each group."""
    out: dict[str, float | None] = {}
    for task, role in GROUPS:
        vals = [a for r, a in zip(rollouts, seq_advantages) if r.group == (task, role)]
        out[f"advantage/{role.value}/{task.value}/mean"] = mean(vals)
        out[f"advantage/{role.value}/{task.value}/std"] = std(vals)
    return out


def samples_record(rollouts: Sequence[Rollout], per_group: int) -> list[dict]:
    """The first ``per_group`` rollouts of each group, as JSON-ready dicts."""
    out = []
    for task, role in GROUPS:
        for r in [r for r in rollouts if r.group == (task, role)][:per_group]:
            out.append({"group": group_name(task, role), "prompt": r.prompt, "completion": r.completion.text,
                        "finish_reason": r.completion.finish_reason, "reward": r.reward, **r.record()})
    return out

