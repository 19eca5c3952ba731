"""Configuration of the RL update (torch-free, frozen).

Defaults are those of the Absolute Zero reference implementation, branch ``paper``
(``absolute_zero_reasoner/configs/azr_ppo_trainer.yaml``, ``scripts/selfplay/coder*.sh`` and
the verl it ships); docs/fidelity.md lists each with its source and the alternatives.
"""

from __future__ import annotations

from dataclasses import dataclass

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
SCHEDULES = ("constant", "warmup", "cosine")
KL_ESTIMATORS = ("k1", "k3")
WEIGHTINGS = ("sequence", "token")
CHECKPOINT_DTYPES = ("original", "model", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class AdvantageConfig:
    """How rewards become per-token advantages (see ``azr.rl.advantages``)."""

    estimator: str = "trr++"  # key of ADVANTAGE_ESTIMATORS: trr++, reinforce++, reinforce++-baseline, grpo, rloo
    norm_std: bool = True  # divide by the (group) std; False gives Dr. GRPO-style mean-only baselines
    weighting: str = "token"  # trr++: group statistics over response tokens ("token": the reference's
    # masked whitening of token returns per (task, role), branch paper) or over sequences
    # ("sequence": each sample counts once, the paper's formula read per sample)
    eps: float = 1e-6  # added to the std before dividing

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.eps < 0:
            raise ValueError("eps must be >= 0")


@dataclass(frozen=True)
class LossConfig:
    """The policy loss and its extra terms (see ``azr.rl.losses``)."""

    policy_loss: str = "ppo_clip"  # key of POLICY_LOSSES: ppo_clip, clip_cov, kl_cov
    clip_low: float = 0.2  # PPO ratio clip below: 1 - clip_low
    clip_high: float = 0.2  # PPO ratio clip above: 1 + clip_high (reference paper: symmetric 0.2;
    # its master branch / newer verl: 0.28, "clip-higher")
    dual_clip: float | None = None  # dual-clip constant c > 1 for negative advantages; None disables
    # (reference paper: none; master: clip_ratio_c 3.0)
    agg: str = "token-mean"  # loss aggregation: token-mean, seq-mean-token-mean, seq-mean-token-sum-norm
    norm_length: int | None = None  # seq-mean-token-sum-norm divisor; None = the batch's padded response length
    token_mean_group: int = 16  # token-mean: the loss of a mini-batch is the mean over consecutive
    # groups of this many sequences of each group's token mean, as the reference normalises per
    # micro-batch of 16 sequences (ppo_micro_batch_size_per_gpu=16, branch paper); 0 = one token
    # mean over the whole mini-batch (every token weighs the same)
    entropy_coef: float = 0.001  # entropy bonus, loss -= coef * entropy (reference paper 0.001;
    # master 0.0)
    kl_coef: float = 0.0  # KL-to-reference penalty weight (reference: 0, no reference model)
    kl_estimator: str = "k3"  # k1 = log(p/ref), k3 = ref/p - log(ref/p) - 1 (non-negative)
    clip_cov_ratio: float = 2e-4  # Clip-Cov: fraction of tokens whose gradient is dropped
    clip_cov_lb: float = 1.0  # Clip-Cov: lower bound of the covariance window
    clip_cov_ub: float = 5.0  # Clip-Cov: upper bound of the covariance window
    kl_cov_ratio: float = 2e-3  # KL-Cov: fraction of tokens (top covariance) given a KL penalty
    kl_cov_coef: float = 1.0  # KL-Cov: weight of |logp - old_logp| on those tokens

    def __post_init__(self) -> None:
        if self.agg not in AGG_MODES:
            raise ValueError(f"agg must be one of {AGG_MODES}, got {self.agg!r}")
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {KL_ESTIMATORS}, got {self.kl_estimator!r}")
        if self.clip_low < 0 or self.clip_high < 0:
            raise ValueError("clip_low and clip_high must be >= 0")
        if self.dual_clip is not None and self.dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1 (or None), got {self.dual_clip}")
        if self.norm_length is not None and self.norm_length < 1:
            raise ValueError("norm_length must be >= 1 (or None)")
        if self.token_mean_group < 0:
            raise ValueError("token_mean_group must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, schedule and micro-batching of the update step."""

    lr: float = 1e-6  # AdamW learning rate (reference: 1e-6, constant, no warmup)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    eps: float = 1e-8  # AdamW epsilon
    weight_decay: float = 0.01  # AdamW decoupled weight decay (reference paper: verl's FSDP default
    # 0.01; master sets 0.0)
    decay_scope: str = "all"  # parameters weight decay applies to: "all" (verl's AdamW over every
    # parameter, as the reference) or "matrices" (not norms and biases)
    grad_clip: float | None = 1.0  # max global grad norm (reference: 1.0); None disables clipping
    schedule: str = "constant"  # constant | warmup (linear warmup then constant) | cosine (warmup then cosine)
    warmup_steps: int = 0  # linear warmup length in optimiser steps
    total_steps: int | None = None  # cosine: steps to decay over (required for "cosine")
    min_lr_ratio: float = 0.0  # cosine: final lr as a fraction of lr
    ppo_mini_batch: int = 128  # sequences per optimizer step (the reference's ppo_mini_batch_size,
    # branch paper: 128 of 384 -> 3 steps per training step); 0 = the whole batch in one step
    ppo_epochs: int = 1  # passes over the batch per training step (reference: 1)
    micro_batch_tokens: int = 8192  # token budget per forward/backward (gradient accumulation)
    logprob_chunk_tokens: int = 1024  # tokens per LM-head chunk in the chunked log-prob/entropy
    autocast: str = "auto"  # "auto" = bf16 autocast on GPU, none on CPU; "bf16" | "none" force it

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.schedule == "cosine" and not self.total_steps:
            raise ValueError("schedule 'cosine' needs total_steps")
        if self.lr < 0 or self.warmup_steps < 0:
            raise ValueError("lr and warmup_steps must be >= 0")
        if self.decay_scope not in ("all", "matrices"):
            raise ValueError(f"optim.decay_scope must be all|matrices, got {self.decay_scope!r}")
        if self.ppo_mini_batch < 0 or self.ppo_epochs < 1:
            raise ValueError("optim.ppo_mini_batch must be >= 0 and optim.ppo_epochs >= 1")
        if self.micro_batch_tokens < 1 or self.logprob_chunk_tokens < 1:
            raise ValueError("micro_batch_tokens and logprob_chunk_tokens must be >= 1")
        if self.autocast not in ("auto", "bf16", "none"):
            raise ValueError(f"autocast must be auto|bf16|none, got {self.autocast!r}")
        if isinstance(self.betas, list):
            object.__setattr__(self, "betas", tuple(self.betas))


@dataclass(frozen=True)
class CheckpointConfig:
    """Which checkpoints to write and keep (sparsity analysis needs a history)."""

    every: int = 10  # save every this many steps (0 disables periodic saves)
    keep_every: int = 50  # keep forever each checkpoint whose step is a multiple of this (0: none)
    keep_last: int = 3  # also keep the newest this many checkpoints (>= 1)
    dtype: str = "original"  # dtype of the saved weights: "original" = the dtype the model was
    # stored in before training (its source config.json, e.g. bf16 for Qwen2.5-Coder, so that
    # sparsity is measured as the study did between bf16 checkpoints), "model" = the training
    # dtype (fp32 master weights in the folder), or float32 | bfloat16 | float16. When the saved
    # weights are coarser than the training weights, trainer_state.pt keeps the exact master
    # weights next to the optimizer state, so a resume stays bit-identical.

    def __post_init__(self) -> None:
        if self.every < 0 or self.keep_every < 0:
            raise ValueError("every and keep_every must be >= 0")
        if self.keep_last < 1:
            raise ValueError("keep_last must be >= 1")
        if self.dtype not in CHECKPOINT_DTYPES:
            raise ValueError(f"checkpoint.dtype must be one of {CHECKPOINT_DTYPES}, got {self.dtype!r}")
