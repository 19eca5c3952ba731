"""The config of ``azr rlvr`` / ``azr sft`` (torch-free).

``BaselineConfig`` is the self-play ``azr.config.Config`` (which already holds the
``controls`` section) plus the ``rlvr`` and ``sft`` sections below, so every
other setting (model, rollout, executor, advantage, loss, optim, checkpoint, reward, run) is
the same dataclass as in self-play, defined once. The study's remaining controls live where
they are already defined: the entropy bonus (``loss.entropy_coef``), clip-higher
(``loss.clip_high``), Clip-Cov / KL-Cov (``loss.policy_loss`` + ``loss.clip_cov_*`` /
``loss.kl_cov_*``), KL to a reference (``loss.kl_coef``).

Command overlays: ``azr rlvr`` / ``azr sft`` apply ``command_overlay`` after the preset and
before a ``--config`` file and ``--set`` overrides (so users can still change everything):
RLVR uses GRPO groups (``advantage.estimator: grpo``), each command writes to its own run
directory (``<preset run_dir>-rlvr`` / ``-sft``), and a preset's ``<preset>.baselines.yaml``
(e.g. ``azr/presets/tiny.baselines.yaml``) gives the ``rlvr`` / ``sft`` sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from azr.config import Config
from azr.selfplay.config import ControlsConfig

__all__ = ["BaselineConfig", "ControlsConfig", "RLVRConfig", "SFTConfig", "command_overlay", "load_baseline_config"]

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


def _check_task_types(section: str, types: tuple[str, ...]) -> None:
    bad = set(types) - {"deduction", "abduction", "induction"}
    if bad or not types:
        raise ValueError(f"{section}.task_types must be a non-empty subset of deduction, abduction, induction; got {list(types)}")


@dataclass(frozen=True)
class BaselineConfig(Config):
    """The self-play config plus the baseline sections."""

    baseline: Literal["rlvr", "sft"] = "rlvr"
    """Which baseline trainer the config is for (set by the command; lets readers of a run's
    config.yaml, e.g. ``azr report``, tell RLVR and SFT runs apart)."""
    rlvr: RLVRConfig = field(default_factory=RLVRConfig)
    """RLVR baseline (``azr rlvr``)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """SFT baseline (``azr sft``)."""


def command_overlay(command: Literal["rlvr", "sft"], preset: str | None, preset_data: dict) -> dict:
    """Settings applied on top of the preset for ``azr rlvr`` / ``azr sft`` (see module doc)."""
    from azr.config import PRESET_DIR, load_yaml

    overlay: dict = {"baseline": command}
    sizes = PRESET_DIR / f"{preset}.baselines.yaml"
    for section, values in (load_yaml(str(sizes)) if preset and sizes.is_file() else {}).items():
        overlay[section] = {**values, **preset_data.get(section, {})}
    base_dir = preset_data.get("run", {}).get("run_dir", "runs/azr")
    overlay["run"] = {"run_dir": f"{base_dir}-{command}"}
    if command == "rlvr":
        overlay["advantage"] = {"estimator": "grpo"}
    return overlay


def load_baseline_config(
    command: Literal["rlvr", "sft"],
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> BaselineConfig:
    """Defaults <- preset <- command overlay <- YAML file <- ``key=value`` overrides."""
    from azr.config import load_config

    return load_config(preset, config_file, overrides, cls=BaselineConfig,
                       overlay=lambda data: command_overlay(command, preset, data))
