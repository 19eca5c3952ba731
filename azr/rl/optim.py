"""AdamW and the learning-rate schedules of ``OptimConfig``."""

from __future__ import annotations

import math

import torch
from torch import nn

from azr.rl.config import OptimConfig


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; weight decay on all of them (``cfg.decay_scope="all"``,
    as verl's actor optimizer) or only on matrices (``"matrices"``: not norms, biases)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    matrices_only = cfg.decay_scope == "matrices"
    decay = [p for p in params if p.dim() >= 2 or not matrices_only]
    no_decay = [p for p in params if p.dim() < 2 and matrices_only]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)


def lr_factor(step: int, cfg: OptimConfig) -> float:
    """Multiplier of ``cfg.lr`` at optimiser step ``step`` (0-based).

    - constant: 1;
    - warmup: ``(step + 1) / warmup_steps`` during warmup, then 1;
    - cosine: warmup, then ``min_lr_ratio + (1 - min_lr_ratio) * (1 + cos(pi * progress)) / 2``
      with progress from 0 to 1 over ``total_steps - warmup_steps`` steps (then flat).
    """
    if cfg.schedule != "constant" and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule in ("constant", "warmup"):
        return 1.0
    span = max(1, (cfg.total_steps or 1) - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` following ``lr_factor``; call ``step()`` once per optimiser step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg))
