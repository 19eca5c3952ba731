"""Configuration of the ``azr-tiny`` pretraining pipeline (one frozen dataclass)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CorpusConfig:
    """What goes into the pretraining corpus."""

    seed: int = 0
    """Seed of the program generator and of every sampling choice made while building episodes."""
    n_programs: int = 5_000
    """Generator programs to execute; each yields two proposer and ``sum(solve_episodes)`` solver episodes."""
    n_inputs: int = 10
    """Inputs generated per program (induction episodes show/propose up to this many)."""
    k_references: tuple[int, ...] = (1, 2, 3, 3, 4)
    """Numbers of reference triplets in deduction/abduction proposer prompts (drawn uniformly)."""
    induction_n_inputs: tuple[int, ...] = (4, 6, 8, 10)
    """Numbers of inputs an induction proposer prompt asks for (drawn uniformly)."""
    solve_episodes: tuple[int, int, int] = (4, 1, 4)
    """Solver episodes per program for (deduction, abduction, induction), each on another
    (input, output) pair or, for induction, another subset of pairs (at least 1 each). CPU runs
    (40 min, 256 samples): (1, 1, 1) solved 3% of deduction tasks; (3, 1, 2) 13% (induction 2%);
    (3, 1, 4) with 10,000 programs 8.6% deduction and 3.1% induction with the generated
    programs as induction answers, 7.8% and 10.9% with canonical answers (4.9% and 10.0% at 512
    samples); (4, 1, 4) with 5,000 programs and canonical answers, the shipped model: 7.3%
    deduction, 10.4% induction (384 samples)."""
    canonical_solutions: bool = True
    """Induction solver episodes answer with the program's canonical spelling
    (``GeneratedProgram.solution``: fixed names, no helpers) instead of its generated text."""
    stdlib_fraction: float = 0.05
    """Share of corpus characters taken from Python standard-library source (rest: episodes)."""
    ngram: int = 13
    """Decontamination: documents sharing any word n-gram of this length with a benchmark are dropped."""
    cross_process_check: bool = False
    """Also run each program in a second sandbox process and compare (the self-play determinism
    check). Off by default: the grammar is deterministic by construction (no sets of strings,
    hashing, randomness or time; a test pins it) and the check doubles the build time."""
    tokenizer_chars: int = 4_000_000
    """The tokenizer is trained on the first documents of the shuffled corpus up to this many characters."""

    def __post_init__(self) -> None:
        if len(self.solve_episodes) != 3 or min(self.solve_episodes) < 1:
            raise ValueError(f"solve_episodes needs three counts >= 1 (deduction, abduction, induction), "
                             f"got {self.solve_episodes}")


@dataclass(frozen=True)
class ArchitectureConfig:
    """Architecture of the tiny decoder (a Qwen2 causal LM with tied embeddings)."""

    vocab_size: int = 8192
    """Byte-level BPE vocabulary size (including special tokens)."""
    hidden_size: int = 192
    """Width of the residual stream."""
    intermediate_size: int = 512
    """Width of the SwiGLU MLP."""
    num_hidden_layers: int = 4
    """Decoder blocks."""
    num_attention_heads: int = 4
    """Query heads (head dim = hidden_size / heads)."""
    num_key_value_heads: int = 2
    """Key/value heads (grouped-query attention)."""
    max_position_embeddings: int = 2048
    """Longest sequence the model accepts (RoPE; it is trained on ``seq_len``-token windows)."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the pretraining run."""

    seed: int = 0
    """Seed of the model initialisation and of the batch order."""
    seq_len: int = 768
    """Tokens per training sequence (documents are packed, separated by EOS)."""
    batch_size: int = 4
    """Sequences per optimiser step."""
    max_steps: int = 2600
    """Optimiser steps; the learning-rate schedule is defined over these (deterministic)."""
    max_minutes: float = 40.0
    """Wall-clock cap (0 = none). When set, the schedule's progress is the larger of the step and
    the time fraction, so a run cut by the clock still ends with a decayed learning rate; a run
    that the clock never binds is deterministic."""
    lr: float = 3e-3
    """Peak learning rate (AdamW), reached after warm-up, then cosine decay to lr/10."""
    warmup_steps: int = 30
    """Linear warm-up steps."""
    weight_decay: float = 0.1
    """AdamW weight decay (matrices only)."""
    bf16: bool = False
    """bf16 autocast (weights stay fp32). Off: on the build machine a bf16 step at sequence
    length 1024 was over 3x slower than fp32 (the CPU flash-attention backward in bf16 fell back
    to a slow GEMM); worth trying on other CPUs."""
    compile: bool = False
    """``torch.compile`` the model. On the build machine compiled steps were slower (2,606 vs
    3,533 tokens/s at 2 threads, 3.2M parameters, 4 x 768 tokens), so it is off."""
    val_fraction: float = 0.01
    """Share of corpus tokens held out for validation loss."""
    eval_every: int = 100
    """Steps between validation-loss evaluations and log lines."""
    device: str = "cpu"
    """Torch device of training and measurement (``"cuda"``: the same 2,070 steps took 1.2-1.5
    minutes on an H200, five or six runs at once; the shipped model is trained on the CPU, and a
    GPU run of the same settings is not bit-identical to it: with generated induction answers
    two mixes solved fewer induction tasks when trained on the CPU, with canonical ones the
    (3, 1, 4) mix solved 10.9% on the CPU and 9.2-11.9% on the GPU, BENCHMARKS.md)."""
    threads: int = 2
    """torch intra-op threads. On the quiet 2-core build machine 2 threads trained 1.95x faster
    than 1 (3,533 vs 1,811 tokens/s); when other jobs load the cores, 1 is faster (2.6x once:
    OpenMP threads wait on each other when the OS deschedules one)."""


@dataclass(frozen=True)
class PretrainConfig:
    """The whole pipeline: corpus, model, training."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
