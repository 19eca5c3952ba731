"""Config sections owned by the self-play trainer: the loop, the rewards, the run.

Torch-free, frozen, one docstring comment per field. The top-level ``azr.config.Config``
composes these with the sections of the other subsystems (rollout, RL, executor); no field
is defined twice. Defaults are the Absolute Zero paper's values where the paper has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CapPolicy = Literal["newest", "reservoir"]


@dataclass(frozen=True)
class SelfPlayConfig:
    """The propose -> validate -> solve loop."""

    steps: int = 500
    """Number of self-play steps (policy updates) to run."""
    propose_batch: int = 64
    """Proposer prompts per task type per step (AZR: 64)."""
    solve_batch: int = 64
    """Solver prompts per task type per step (reference: 64), chosen by ``solver_source``."""
    solver_source: Literal["previous", "current"] = "previous"
    """Which tasks the solver answers at step t (``azr.selfplay.solver_batch``): "previous"
    (the reference's ``max_new`` mix): the tasks added at step t - 1, sampled without
    replacement, backfilled without replacement from the buffer as it was before step t;
    "current": step t's own new tasks first, backfilled with replacement."""
    n_references: int = 6
    """K: reference triplets shown to the deduction/abduction proposer (AZR: 6)."""
    n_induction_inputs: int = 10
    """N: inputs the induction proposer writes (AZR: 10); N // 2 pairs are visible (see ``induction_rule``)."""
    min_induction_pairs: int = 2
    """Fewest valid (input, output) pairs for an induction proposal to count as valid
    (``induction_rule: lenient`` only)."""
    induction_rule: Literal["reference", "lenient"] = "reference"
    """Induction proposals (``azr.selfplay.env``): "reference" (AZR's code): at least N inputs,
    the last N kept, all must pass or the proposal is invalid, N // 2 visible; "lenient": the
    first N distinct inputs, failing ones dropped, valid with ``min_induction_pairs`` left."""
    entry_rule: Literal["reference", "lenient"] = "reference"
    """Deduction/abduction proposals (``azr.tasks.parsing``): "reference": exactly one
    top-level function, renamed to ``f`` (nested helpers allowed); "lenient": any number of
    top-level functions, one of them named ``f``."""
    static_rules: Literal["reference", "strict"] = "reference"
    """Static checks of proposed programs and inputs (``azr.executor.checks.RULES``):
    "reference": AZR's banned modules (os, sys allowed) + a sandbox-integrity list, ``input(``
    refused; "strict": also azr's earlier longer module list, and no starred inputs."""
    template_set: Literal["reference", "tiny"] = "reference"
    """Prompt templates (``azr.tasks.prompts``): "reference" (the content and layout of AZR's
    prompts, in our words) or "tiny" (the short prompts the bundled azr-tiny was pretrained on)."""
    answer_format: Literal["reference", "lenient"] = "reference"
    """Answer format of every completion (``azr.tasks.parsing.extract_answer``): "reference"
    (AZR's format check: only whitespace between ``</think>`` and ``<answer>``, ``</answer>``
    required) or "lenient" (text in between and a missing ``</answer>`` accepted)."""
    learnability_samples: int = 8
    """n: solver samples per valid proposal to estimate its solve rate (AZR: 8), drawn at the
    rollout temperature (never greedily)."""
    seed_buffer_size: int = 0
    """Grow each buffer with base-model proposals (no update) until it holds this many entries
    before training starts; 0: only the zero triplet."""
    max_seed_rounds: int = 20
    """Give up seeding after this many proposal rounds (a weak model may never reach the size)."""
    buffer_cap: int = 0
    """Most entries a buffer keeps; 0 means unbounded. New programs are always accepted."""
    cap_policy: CapPolicy = "newest"
    """When a buffer is full: "newest" drops the oldest entry; "reservoir" keeps a uniform
    sample of everything seen (seeded), each new entry replacing a random one or being dropped."""
    train_propose: bool = True
    """False: the frozen-proposer variant; proposer samples are generated, rewarded and
    buffered but get no gradient."""
    val_every: int = 10
    """Validate every this many steps (AZR: 10); 0 disables validation."""
    val_size: int = 64
    """Held-out tasks per validation set (CRUXEval-O/-I, or generator-made when absent)."""
    val_sets: tuple[str, ...] = ("cruxeval_o", "cruxeval_i", "lcb_execution_i")
    """Validation sets (the reference's: CRUXEval-O, CRUXEval-I, LiveCodeBench-execution as
    input prediction): cruxeval_o (deduction) and cruxeval_i (abduction) from the data dir,
    replaced by generator-made held-out tasks when absent; lcb_execution_i (abduction, as the
    reference uses these rows) and lcb_execution_o (deduction) from
    ``livecodebench/execution.jsonl``, skipped (and logged) when absent."""
    samples_per_group: int = 4
    """Prompts/completions saved per (task, role) per step under samples/."""

    def __post_init__(self) -> None:
        for name in ("steps", "propose_batch", "solve_batch", "n_references", "n_induction_inputs",
                     "learnability_samples", "max_seed_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"selfplay.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("seed_buffer_size", "buffer_cap", "val_every", "val_size", "samples_per_group"):
            if getattr(self, name) < 0:
                raise ValueError(f"selfplay.{name} must be >= 0, got {getattr(self, name)}")
        if not 1 <= self.min_induction_pairs <= self.n_induction_inputs:
            raise ValueError(
                f"selfplay.min_induction_pairs must be in [1, n_induction_inputs={self.n_induction_inputs}],"
                f" got {self.min_induction_pairs}"
            )
        if self.buffer_cap and self.buffer_cap < self.seed_buffer_size:
            raise ValueError(
                f"selfplay.buffer_cap ({self.buffer_cap}) is smaller than selfplay.seed_buffer_size "
                f"({self.seed_buffer_size}): the buffer could never be seeded"
            )
        for name, known in (("induction_rule", ("reference", "lenient")), ("entry_rule", ("reference", "lenient")),
                            ("static_rules", ("reference", "strict")),
                            ("template_set", ("reference", "tiny")), ("answer_format", ("reference", "lenient"))):
            if getattr(self, name) not in known:
                raise ValueError(f"selfplay.{name} must be one of {known}, got {getattr(self, name)!r}")
        known = ("cruxeval_o", "cruxeval_i", "lcb_execution_i", "lcb_execution_o")
        unknown = set(self.val_sets) - set(known)
        if unknown:
            raise ValueError(f"selfplay.val_sets: unknown sets {sorted(unknown)}; known: {', '.join(known)}")


@dataclass(frozen=True)
class RewardConfig:
    """Rewards (Absolute Zero paper, Appendix A; ``azr.selfplay.rewards``)."""

    proposer: str = "learnability"
    """Proposer reward from the estimated solve rate s, by registry name: "learnability"
    (1 - s, 0 at s in {0, 1}), "eq3" (1 - 2|s - 0.5|, as in R-Zero), "target_rate" (a peak at
    ``target_rate``, linear down to 0 at s = 0 and s = 1)."""
    target_rate: float = 0.5
    """Peak of the "target_rate" proposer reward (0 < t < 1)."""
    format_aware: bool = True
    """Apply the penalties below (Eq. 6); False: role reward when passable, else 0."""
    format_error_reward: float = -1.0
    """Reward of a completion that does not parse, proposer or solver (reference: -1)."""
    invalid_proposal: float = -1.0
    """Reward of a parsed proposal that fails validation (reference ``paper`` branch: -1, its
    format score is 0); -0.5 scores it like a valid but trivial proposal."""
    degenerate_reward: float = -0.5
    """Reward of a valid proposal whose solve rate is 0 or 1 (reference: -0.5); 0.0 is the
    paper's Eq. 4 read literally."""
    solver_wrong: float = -0.5
    """Reward of a solver answer that parsed but is wrong (reference and paper Eq. 6: -0.5);
    0.0 gives a plain 1/0 solver reward."""

    def __post_init__(self) -> None:
        if not 0.0 < self.target_rate < 1.0:
            raise ValueError(f"reward.target_rate must be in (0, 1), got {self.target_rate}")


SinkName = Literal["jsonl", "tensorboard", "wandb"]


@dataclass(frozen=True)
class RunConfig:
    """Where and how a run is written, and how it is seeded."""

    seed: int = 0
    """Seeds every RNG of the run (sampling, buffers, batching); same seed, same metrics on CPU."""
    run_dir: str = "runs/azr"
    """Run directory: config, metrics, checkpoints, buffers, samples."""
    data_dir: str = ""
    """Benchmark data directory; empty: the AZR_DATA_DIR environment variable (if set)."""
    sinks: tuple[str, ...] = ("jsonl",)
    """Metric sinks: "jsonl" (always on), "tensorboard", "wandb" (a requested sink that is not
    installed stops the run before it starts)."""
    wandb_project: str = "azr"
    """W&B project name when the "wandb" sink is on."""
    torch_threads: int = 0
    """CPU threads for torch (``torch.set_num_threads``); 0 keeps torch's default. On a busy
    2-core machine 1 thread sampled a tiny model 20x faster than 2 (BENCHMARKS.md)."""
    progress: bool = True
    """Print a one-line progress display per phase (step, phase, tokens/s, rates, ETA)."""
    overwrite: bool = False
    """Let a fresh run replace the metric rows of a run directory that has no checkpoint
    (refused otherwise; a directory with checkpoints is only ever continued with --resume)."""

    def __post_init__(self) -> None:
        if self.torch_threads < 0:
            raise ValueError(f"run.torch_threads must be >= 0, got {self.torch_threads}")
        bad = set(self.sinks) - {"jsonl", "tensorboard", "wandb"}
        if bad:
            raise ValueError(f"run.sinks: unknown sinks {sorted(bad)}; known: jsonl, tensorboard, wandb")


@dataclass(frozen=True)
class ControlsConfig:
    """Exploration controls (the study's remedies). Self-play (``azr train``) uses all of them
    (``azr.selfplay.controls``, ``azr.selfplay.offpolicy``); ``azr rlvr`` uses ``explore_*`` and
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
    """Program similarity (``azr.selfplay.diversity.SIMILARITIES``): bleu or jaccard."""

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
