"""The config sections of the baselines and of the exploration controls (torch-free).

Plain frozen dataclasses with no dependency on ``azr.config``, so that the top-level
``Config`` may embed them (``controls`` is meant for self-play too) without an import cycle.
``azr.baselines.config.BaselineConfig`` composes them with the self-play config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SFTSource = Literal["reference", "rejection"]


@dataclass(frozen=True)
class RLVRConfig:
    """RL with verifiable rewards over a fixed dataset (``azr rlvr``)."""

    steps: int = 200
    """Policy updates to run."""
    prompts_per_step: int = 32
    """Dataset problems per step (drawn without replacement, reshuffled each epoch)."""
    group_size: int = 8
    """n: samples per prompt; the GRPO group whose rewards are normalised together."""
    dataset: tuple[str, ...] = ()
    """JSONL files, folders or run directories of triplets (buffer-entry format); empty: a
    generator-made dataset of ``generated_size`` problems (seeded by ``run.seed``)."""
    generated_size: int = 96
    """Problems in the generator-made default dataset (balanced over the task types)."""
    task_types: tuple[str, ...] = ("deduction", "abduction", "induction")
    """Task types of the dataset to train on."""
    force_dataset: bool = False
    """Train on a file even if it is a known evaluation benchmark (refused otherwise)."""

    def __post_init__(self) -> None:
        for name in ("steps", "prompts_per_step", "group_size", "generated_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"rlvr.{name} must be >= 1, got {getattr(self, name)}")
        _check_task_types("rlvr", self.task_types)


@dataclass(frozen=True)
class SFTConfig:
    """Supervised fine-tuning on solutions (``azr sft``); dataset settings are ``rlvr``'s."""

    steps: int = 100
    """Optimiser steps to run."""
    batch_size: int = 16
    """(prompt, solution) pairs per step."""
    source: SFTSource = "reference"
    """"reference": the dataset's reference answers rendered as solver completions;
    "rejection": the policy's own correct completions (sampled ``rejection_samples`` times
    per problem at the rollout temperature, verified in the sandbox), refreshed each step."""
    rejection_samples: int = 4
    """Samples per problem for ``source: rejection``."""
    think: str = ""
    """Reasoning text put inside <think> of reference completions (empty: none)."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "rejection_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"sft.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ControlsConfig:
    """Exploration controls (the study's remedies). Self-play (``azr train``) uses all of them
    (``azr.baselines.hooks``, ``azr.baselines.offpolicy``); ``azr rlvr`` uses ``explore_*`` and
    ``is_*``. All off by default."""

    propose_temperature: float | None = None
    """Proposer sampling temperature, separate from the solver's; None: rollout.temperature.
    When it differs, proposer rows are off-policy for the update (which differentiates the
    policy at rollout.temperature) and get the ``is_cap``/``is_level`` importance weights."""
    explore_fraction: float = 0.0
    """Off-policy exploration mixing: fraction of each group drawn from a behaviour sampler
    (rounded per group; each group keeps one on-policy sample); 0 disables it. LUFFY (Yan et
    al. 2025) mixes off-policy traces this way; the study's "escape the support bound"."""
    explore_temperature: float = 1.5
    """Temperature of the behaviour sampler."""
    explore_model: str = ""
    """Path of a fixed behaviour model (e.g. the base checkpoint, same tokenizer); empty:
    the current policy at ``explore_temperature``."""
    is_cap: float = 2.0
    """Truncation of the importance weights pi_old / mu (truncated IS; >= 1)."""
    is_level: Literal["token", "sequence"] = "token"
    """Importance ratios per token, or one per sequence (product over its tokens)."""
    diversity_weight: float = 0.0
    """lambda of R-Zero's repetition penalty lambda * |cluster| / batch on valid proposals
    (Huang et al. 2025); 0 disables it."""
    diversity_threshold: float = 0.5
    """Clustering distance threshold (1 - similarity) for near-duplicate proposals."""
    diversity_measure: str = "bleu"
    """Program similarity (``azr.baselines.diversity.SIMILARITIES``): bleu or jaccard."""

    def __post_init__(self) -> None:
        if self.propose_temperature is not None and self.propose_temperature < 0:
            raise ValueError(f"controls.propose_temperature must be >= 0, got {self.propose_temperature}")
        if not 0.0 <= self.explore_fraction <= 1.0:
            raise ValueError(f"controls.explore_fraction must be in [0, 1], got {self.explore_fraction}")
        if self.explore_temperature <= 0:
            raise ValueError(f"controls.explore_temperature must be > 0, got {self.explore_temperature}")
        if self.is_cap < 1.0:
            raise ValueError(f"controls.is_cap must be >= 1, got {self.is_cap}")
        if self.diversity_weight < 0:
            raise ValueError(f"controls.diversity_weight must be >= 0, got {self.diversity_weight}")
        if not 0.0 <= self.diversity_threshold <= 1.0:
            raise ValueError(f"controls.diversity_threshold must be in [0, 1], got {self.diversity_threshold}")
        if self.diversity_measure not in ("bleu", "jaccard"):
            raise ValueError(f"controls.diversity_measure must be bleu or jaccard, got {self.diversity_measure!r}")


def _check_task_types(section: str, types: tuple[str, ...]) -> None:
    bad = set(types) - {"deduction", "abduction", "induction"}
    if bad or not types:
        raise ValueError(f"{section}.task_types must be a non-empty subset of deduction, abduction, induction; got {list(types)}")
