"""The config of ``azr rlvr`` / ``azr sft`` (torch-free).

``BaselineConfig`` is the self-play ``azr.config.Config`` (which already holds the
``controls`` section) plus the ``rlvr`` and ``sft`` sections of ``azr.baselines.sections``, so every
other setting (model, rollout, executor, advantage, loss, optim, checkpoint, reward, run) is
the same dataclass as in self-play, defined once. The study's remaining controls live where
they are already defined: the entropy bonus (``loss.entropy_coef``), clip-higher
(``loss.clip_high``), Clip-Cov / KL-Cov (``loss.policy_loss`` + ``loss.clip_cov_*`` /
``loss.kl_cov_*``), KL to a reference (``loss.kl_coef``).

Command overlays: ``azr rlvr`` / ``azr sft`` apply ``command_overlay`` after the preset and
before a ``--config`` file and ``--set`` overrides (so users can still change everything):
RLVR uses GRPO groups (``advantage.estimator: grpo``), each command writes to its own run
directory (``<preset run_dir>-rlvr`` / ``-sft``), and the ``tiny`` preset gets small sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from azr.baselines.sections import ControlsConfig, RLVRConfig, SFTConfig
from azr.config import Config

__all__ = ["BaselineConfig", "ControlsConfig", "RLVRConfig", "SFTConfig", "command_overlay", "load_baseline_config"]


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


#: Per-preset sizes of the baseline sections (the presets' YAML may override them).
PRESET_SECTIONS: dict[str, dict] = {
    "tiny": {
        "rlvr": {"steps": 10, "prompts_per_step": 4, "group_size": 4, "generated_size": 24},
        "sft": {"steps": 10, "batch_size": 8, "rejection_samples": 2},
    },
}


def command_overlay(command: Literal["rlvr", "sft"], preset: str | None, preset_data: dict) -> dict:
    """Settings applied on top of the preset for ``azr rlvr`` / ``azr sft`` (see module doc)."""
    overlay: dict = {"baseline": command}
    for section, values in PRESET_SECTIONS.get(preset or "", {}).items():
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
    from azr.config import apply_overrides, check_registries, from_dict, load_yaml, merge, preset_data

    data: dict = preset_data(preset) if preset else {}
    data = merge(data, command_overlay(command, preset, data))
    if config_file:
        data = merge(data, load_yaml(config_file))
    data = apply_overrides(data, list(overrides), BaselineConfig)
    cfg = from_dict(BaselineConfig, data)
    check_registries(cfg)
    return cfg
