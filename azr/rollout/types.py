"""The rollout engine protocol and its plain-data types (torch-free).

An engine turns prompts into sampled completions::

    engine.generate(prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]

returns, for each prompt in order, ``params.n`` completions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Sequence, runtime_checkable

FinishReason = Literal["eos", "stop", "length"]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample completions for one ``generate`` call."""

    temperature: float = 1.0  # softmax temperature; 0 means greedy decoding
    top_p: float = 1.0  # nucleus sampling mass in (0, 1]; 1 disables it
    max_new_tokens: int = 256  # hard cap on generated tokens per completion
    n: int = 1  # completions per prompt
    stop: tuple[str, ...] = ()  # stop strings (e.g. "</answer>"); the text ends right after one
    seed: int | None = None  # same seed -> same outputs (on one device); None: global torch RNG

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty")


@dataclass(frozen=True)
class Completion:
    """One sampled completion.

    ``token_ids`` are the generated tokens the policy is trained on: up to and including the
    EOS token (finish "eos"), or up to and including the token that completes a stop string
    (finish "stop"), or ``max_new_tokens`` tokens (finish "length"). ``text`` is their
    decoding without the EOS token; on "stop" it ends exactly at the end of the stop string
    (the stop string is kept, so ``</answer>`` remains parseable). ``logprobs[i]`` is the
    log-probability of ``token_ids[i]`` under the distribution it was actually sampled from
    (after temperature and top-p; for greedy decoding, the plain softmax).
    """

    token_ids: tuple[int, ...]
    text: str
    logprobs: tuple[float, ...]
    finish_reason: FinishReason
    prompt_token_ids: tuple[int, ...] = ()  # the exact prompt tokens the engine conditioned on


@runtime_checkable
class RolloutEngine(Protocol):
    """Anything that samples completions for prompts."""

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt (in order), ``params.n`` completions."""
        ...
