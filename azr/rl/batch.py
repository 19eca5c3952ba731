"""The training batch of the update step, and how to build it from prompts and completions."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import torch


@dataclass(frozen=True)
class PolicyBatch:
    """Sequences to train on, right-padded: ``[prompt][response][pad]`` per row.

    Per-token tensors are aligned with ``input_ids``: position t refers to token t
    (``old_logprobs[b, t] = log p_old(x_t | x_<t)``); they are 0 outside the response.
    """

    input_ids: torch.Tensor  # [B, T] long
    attention_mask: torch.Tensor  # [B, T] long/bool, 1 on prompt and response tokens
    response_mask: torch.Tensor  # [B, T] float, 1 on the response tokens that are scored
    old_logprobs: torch.Tensor  # [B, T] float32, log-probs under the sampling policy
    advantages: torch.Tensor  # [B, T] float32
    sample_mask: torch.Tensor  # [B] float32 weight per sample; 0 = no gradient (e.g. frozen proposer)
    ref_logprobs: torch.Tensor | None = None  # [B, T] float32 under a reference model (KL penalty)

    def __post_init__(self) -> None:
        if self.input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [B, T], got {tuple(self.input_ids.shape)}")
        shape = self.input_ids.shape
        for f in ("attention_mask", "response_mask", "old_logprobs", "advantages", "ref_logprobs"):
            t = getattr(self, f)
            if t is not None and t.shape != shape:
                raise ValueError(f"{f} has shape {tuple(t.shape)}, expected {tuple(shape)}")
        if self.sample_mask.shape != shape[:1]:
            raise ValueError(f"sample_mask must be [B]={shape[0]}, got {tuple(self.sample_mask.shape)}")
        if self.response_mask[:, 0].any():
            raise ValueError("position 0 cannot be a response token (no context to predict it)")

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]

    def to(self, device: torch.device | str) -> "PolicyBatch":
        return replace(self, **{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    def select(self, index: torch.Tensor | Sequence[int], width: int | None = None) -> "PolicyBatch":
        """Rows ``index``, truncated to the first ``width`` columns (default: all)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        out = {}
        for f in fields(self):
            t = getattr(self, f.name)
            if t is None:
                out[f.name] = None
            elif f.name == "sample_mask":
                out[f.name] = t[idx.to(t.device)]
            else:
                out[f.name] = t[idx.to(t.device), :width]
        return PolicyBatch(**out)


def _to(t: torch.Tensor | None, device) -> torch.Tensor | None:
    return None if t is None else t.to(device)


def make_policy_batch(
    prompt_ids: Sequence[Sequence[int]],
    response_ids: Sequence[Sequence[int]],
    pad_token_id: int,
    *,
    advantages: Sequence[float] | torch.Tensor,
    old_logprobs: Sequence[Sequence[float]] | None = None,
    sample_mask: Sequence[float] | torch.Tensor | None = None,
) -> PolicyBatch:
    """Right-padded ``PolicyBatch`` from token lists.

    Args:
        prompt_ids: B prompts (non-empty), e.g. ``Completion.prompt_token_ids``.
        response_ids: B responses, e.g. ``Completion.token_ids``.
        pad_token_id: filler id for padding (masked out).
        advantages: ``[B]`` per-sequence (broadcast over the response) or ``[B, T]`` per token.
        old_logprobs: per response token (e.g. ``Completion.logprobs``); default zeros
            (recompute them with ``azr.rl.update.recompute_logprobs``).
        sample_mask: ``[B]`` weights, default ones.
    """
    B = len(prompt_ids)
    if len(response_ids) != B:
        raise ValueError(f"{B} prompts but {len(response_ids)} responses")
    if any(len(p) == 0 for p in prompt_ids):
        raise ValueError("every prompt needs at least one token")
    T = max(len(p) + len(r) for p, r in zip(prompt_ids, response_ids))
    input_ids = torch.full((B, T), pad_token_id, dtype=torch.long)
    attention = torch.zeros((B, T), dtype=torch.long)
    resp = torch.zeros((B, T), dtype=torch.float32)
    old = torch.zeros((B, T), dtype=torch.float32)
    for b, (p, r) in enumerate(zip(prompt_ids, response_ids)):
        lp, lr = len(p), len(r)
        input_ids[b, : lp + lr] = torch.tensor([*p, *r], dtype=torch.long)
        attention[b, : lp + lr] = 1
        resp[b, lp : lp + lr] = 1.0
        if old_logprobs is not None:
            if len(old_logprobs[b]) != lr:
                raise ValueError(f"row {b}: {len(old_logprobs[b])} log-probs for {lr} response tokens")
            old[b, lp : lp + lr] = torch.tensor(list(old_logprobs[b]), dtype=torch.float32)
    adv = torch.as_tensor(advantages, dtype=torch.float32)
    if adv.dim() == 1:
        if adv.shape[0] != B:
            raise ValueError(f"advantages has {adv.shape[0]} entries for {B} samples")
        adv = adv[:, None] * resp
    elif adv.shape != (B, T):
        raise ValueError(f"advantages must be [B] or [B, T]=({B}, {T}), got {tuple(adv.shape)}")
    weights = torch.ones(B) if sample_mask is None else torch.as_tensor(sample_mask, dtype=torch.float32)
    return PolicyBatch(input_ids, attention, resp, old, adv * resp, weights)
