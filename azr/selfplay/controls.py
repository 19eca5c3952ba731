"""The exploration controls of the self-play loop: one call each from the step (torch-free).

- ``proposer_sampling(cfg, n, seed)``: the proposer's ``SamplingParams`` with
  ``controls.propose_temperature`` (the rollout temperature when None); the solver and the
  learnability samples keep ``rollout.temperature``.
- ``apply_diversity_penalty(rollouts, controls)``: R-Zero's repetition penalty on the valid
  proposals of each task type (``azr.selfplay.diversity``), in place on ``Rollout.reward``;
  returns ``diversity/<task>/...`` metrics. Call it after the proposer rewards are computed
  and before the advantages.
- ``generate_mixed(engine, explorer, prompts, groups, params, controls, seed)``: off-policy
  exploration mixing. The last ``explore_count(len(group), controls.explore_fraction)``
  prompts of each group are sampled by ``explorer`` at ``controls.explore_temperature``,
  the others by ``engine`` with ``params``; returns the completions in prompt order and the
  per-prompt ``explore`` flags. The update corrects the flagged rows with truncated
  importance weights (``azr.selfplay.offpolicy.reweight_off_policy``).

Proposal texts compared: program + input (deduction, abduction: the same function with
another input is a near-duplicate task) and the inputs + message (induction: the program is
given to the proposer, so only what it wrote counts).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace

from azr.selfplay.diversity import penalise_near_duplicates
from azr.selfplay.config import ControlsConfig
from azr.rollout.types import SamplingParams
from azr.tasks.types import TASK_TYPES, Role, TaskType


def proposer_sampling(rollout_cfg, controls: ControlsConfig, n: int, seed: int) -> SamplingParams:
    """Sampling parameters of the proposer phase (``rollout_cfg``: a ``RolloutConfig``)."""
    params = rollout_cfg.sampling_params(n, seed)
    if controls.propose_temperature is None:
        return params
    return replace(params, temperature=controls.propose_temperature)


def proposal_text(task_type: TaskType, task: dict) -> str:
    """The part of a valid proposal (``Rollout.task``, a task's ``to_dict``) that the
    proposer wrote, as one text for the similarity measure."""
    if TaskType(task_type) is TaskType.INDUCTION:
        return "\n".join([*task.get("inputs", []), task.get("message", "")])
    return f"{task.get('program', '')}\n{task.get('input', '')}"


def apply_diversity_penalty(rollouts: Sequence, controls: ControlsConfig) -> dict[str, float]:
    """Penalise near-duplicate valid proposals per task type, in place (see module doc).

    ``rollouts``: ``azr.selfplay.rollouts.Rollout`` objects; proposer rollouts with
    ``outcome == "passable"`` and a ``task`` dict are the valid ones. No-op
    when ``controls.diversity_weight`` is 0.
    """
    if controls.diversity_weight == 0:
        return {}
    metrics: dict[str, float] = {}
    for t in TASK_TYPES:
        props = [r for r in rollouts if r.role is Role.PROPOSE and r.task_type is t]
        valid = [r.outcome == "passable" and r.task is not None for r in props]
        texts = [proposal_text(t, r.task) if v else "" for r, v in zip(props, valid)]
        new, m = penalise_near_duplicates(texts, [r.reward for r in props], valid, weight=controls.diversity_weight,
                                          threshold=controls.diversity_threshold, measure=controls.diversity_measure)
        for r, reward in zip(props, new):
            r.reward_before_diversity = r.reward
            r.reward = reward
        metrics.update({k.replace("diversity/", f"diversity/{t.value}/"): v for k, v in m.items()})
    return metrics


def explore_flags(groups: Sequence[Hashable], fraction: float) -> list[bool]:
    """Per item: drawn by the behaviour sampler? The last ``explore_count(n_g, fraction)`` items
    of each group ``g`` (``n_g`` items with that key, in order) are."""
    from azr.selfplay.offpolicy import explore_count

    positions: dict[Hashable, list[int]] = {}
    for i, g in enumerate(groups):
        positions.setdefault(g, []).append(i)
    flags = [False] * len(groups)
    for idx in positions.values():
        k = explore_count(len(idx), fraction)
        for i in idx[len(idx) - k:]:
            flags[i] = True
    return flags


def generate_mixed(engine, explorer, prompts: Sequence[str], groups: Sequence[Hashable], params: SamplingParams,
                   controls: ControlsConfig, seed: int) -> tuple[list, list[bool]]:
    """Sample ``params.n`` completions per prompt, the flagged prompts from ``explorer``.

    Args:
        engine: the policy's ``RolloutEngine``; explorer: the behaviour sampler (the same
            engine, or one of a fixed model); both share the tokenizer.
        groups: one comparison-group key per prompt (e.g. the task type).
        params: the on-policy sampling parameters; the explorer uses them with
            ``temperature = controls.explore_temperature`` and ``seed``.

    Returns:
        (completions per prompt [len(prompts)][n], explore flag per prompt).
    """
    flags = explore_flags(groups, controls.explore_fraction) if controls.explore_fraction else [False] * len(prompts)
    on = [i for i, f in enumerate(flags) if not f]
    off = [i for i, f in enumerate(flags) if f]
    out: list = [None] * len(prompts)
    if on:
        for i, cs in zip(on, engine.generate([prompts[i] for i in on], params)):
            out[i] = cs
    if off:
        explore = replace(params, temperature=controls.explore_temperature, seed=seed)
        for i, cs in zip(off, explorer.generate([prompts[i] for i in off], explore)):
            out[i] = cs
    return out, flags
