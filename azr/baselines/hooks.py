"""Self-play hooks of the exploration controls: one call each from the self-play step (torch-free).

- ``proposer_sampling(cfg, n, seed)``: the proposer's ``SamplingParams`` with
  ``controls.propose_temperature`` (the rollout temperature when None); the solver and the
  learnability samples keep ``rollout.temperature``.
- ``apply_diversity_penalty(rollouts, controls)``: R-Zero's repetition penalty on the valid
  proposals of each task type (``azr.baselines.diversity``), in place on ``Rollout.reward``;
  returns ``diversity/<task>/...`` metrics. Call it after the proposer rewards are computed
  and before the advantages.

Proposal texts compared: program + input (deduction, abduction: the same function with
another input is a near-duplicate task) and the inputs + message (induction: the program is
given to the proposer, so only what it wrote counts).
"""

from __future__ import annotations

from collections.abc import Sequence

from azr.baselines.diversity import penalise_near_duplicates
from azr.baselines.sections import ControlsConfig
from azr.rollout.types import SamplingParams
from azr.tasks.types import TASK_TYPES, Role, TaskType


def proposer_sampling(rollout_cfg, controls: ControlsConfig, n: int, seed: int) -> SamplingParams:
    """Sampling parameters of the proposer phase (``rollout_cfg``: a ``RolloutConfig``)."""
    temp = rollout_cfg.temperature if controls.propose_temperature is None else controls.propose_temperature
    return SamplingParams(temperature=temp, top_p=rollout_cfg.top_p, max_new_tokens=rollout_cfg.max_new_tokens,
                          n=n, stop=rollout_cfg.stop, seed=seed)


def proposal_text(task_type: TaskType, task: dict) -> str:
    """The part of a valid proposal (``Rollout.info["task"]``, a task's ``to_dict``) that the
    proposer wrote, as one text for the similarity measure."""
    if TaskType(task_type) is TaskType.INDUCTION:
        return "\n".join([*task.get("inputs", []), task.get("message", "")])
    return f"{task.get('program', '')}\n{task.get('input', '')}"


def apply_diversity_penalty(rollouts: Sequence, controls: ControlsConfig) -> dict[str, float]:
    """Penalise near-duplicate valid proposals per task type, in place (see module doc).

    ``rollouts``: ``azr.selfplay.records.Rollout`` objects; proposer rollouts with
    ``info["outcome"] == "passable"`` and a ``info["task"]`` dict are the valid ones. No-op
    when ``controls.diversity_weight`` is 0.
    """
    if controls.diversity_weight == 0:
        return {}
    metrics: dict[str, float] = {}
    for t in TASK_TYPES:
        props = [r for r in rollouts if r.role is Role.PROPOSE and r.task_type is t]
        valid = [r.info.get("outcome") == "passable" and r.info.get("task") is not None for r in props]
        texts = [proposal_text(t, r.info["task"]) if v else "" for r, v in zip(props, valid)]
        new, m = penalise_near_duplicates(texts, [r.reward for r in props], valid, weight=controls.diversity_weight,
                                          threshold=controls.diversity_threshold, measure=controls.diversity_measure)
        for r, reward in zip(props, new):
            r.info["reward_before_diversity"] = r.reward
            r.reward = reward
        metrics.update({k.replace("diversity/", f"diversity/{t.value}/"): v for k, v in m.items()})
    return metrics
