"""Per-token log-probs and full-distribution entropy, chunked over tokens.

For a flat set of N positions with hidden states ``h [N, H]``, LM-head weight ``W [V, H]``
(optional bias ``b [V]``) and a scale ``s`` (``logit_scale / temperature``), the logits are
``z = s * (h @ W.T + b)`` ``[N, V]``; we return ``log softmax(z)[label]`` and
``H = -sum_v p_v log p_v``, both float32 ``[N]``.

``chunked_logprobs_entropy`` never holds more than ``chunk_tokens x V`` fp32 logits, in the
forward pass and in the backward pass: a custom ``torch.autograd.Function`` keeps only ``h``,
``W`` and the per-token results, and in backward recomputes each chunk's logits and applies
the analytic gradients

    d logp_y / dz = onehot(y) - p,      d H / dz = -p * (log p + H).

``naive_logprobs_entropy`` is the plain reference (materialises all logits). ``policy_logprobs``
runs a Hugging Face causal LM's backbone and applies the chunked head on the positions that
matter (response tokens), handling tied embeddings, a ``logit_scale`` and the temperature.
"""

from __future__ import annotations

import torch
from torch import nn


def _compute_dtype(hidden: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The head matmul's dtype: the autocast dtype when autocast is on, else the promoted dtype."""
    dev = hidden.device.type
    if torch.is_autocast_enabled(dev) and hidden.dtype != torch.float64:
        return torch.get_autocast_dtype(dev)
    return torch.promote_types(hidden.dtype, weight.dtype)


def _chunk_logp(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, scale: float) -> torch.Tensor:
    """Log-softmax of one chunk's logits, ``[n, V]`` float32 (float64 for float64 inputs).

    ``h`` and ``weight`` are already in the compute dtype; the softmax runs in float32.
    """
    z = h @ weight.t()
    if bias is not None:
        z = z + bias
    if z.dtype != torch.float64:
        z = z.float()
    if scale != 1.0:
        z.mul_(scale)  # z is always a fresh buffer here
    return z.sub_(torch.logsumexp(z, dim=-1, keepdim=True))  # in place: one [n, V] buffer


def _chunk_stats(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, labels: torch.Tensor, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(label logp [n], entropy [n])`` of one chunk, with two ``[n, V]`` buffers at most."""
    logp = _chunk_logp(h, weight, bias, scale)
    lp = logp.gather(-1, labels[:, None]).squeeze(-1)
    ent = -(logp.exp().mul_(logp)).sum(-1)
    return lp, ent


class _ChunkedLogprobEntropy(torch.autograd.Function):
    """Autocast is resolved once in forward (explicit casts) and replayed in backward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, scale: float, chunk: int):
        n = hidden.shape[0]
        cdt = _compute_dtype(hidden, weight)
        out_dtype = torch.float64 if cdt == torch.float64 else torch.float32
        lp = torch.empty(n, dtype=out_dtype, device=hidden.device)
        ent = torch.empty(n, dtype=out_dtype, device=hidden.device)
        with torch.no_grad(), torch.autocast(hidden.device.type, enabled=False):
            w, b = weight.to(cdt), None if bias is None else bias.to(cdt)
            for s in range(0, n, chunk):
                lp[s : s + chunk], ent[s : s + chunk] = _chunk_stats(
                    hidden[s : s + chunk].to(cdt), w, b, labels[s : s + chunk], scale
                )
        ctx.save_for_backward(hidden, weight, bias, labels, ent)
        ctx.scale, ctx.chunk, ctx.cdt = scale, chunk, cdt
        ctx.mark_non_differentiable(labels)
        return lp, ent

    @staticmethod
    def backward(ctx, g_lp, g_ent):
        hidden, weight, bias, labels, ent = ctx.saved_tensors
        scale, chunk, cdt = ctx.scale, ctx.chunk, ctx.cdt
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        acc_dtype = torch.float64 if cdt == torch.float64 else torch.float32
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=acc_dtype, device=weight.device) if need_w else None
        grad_b = torch.zeros(bias.shape, dtype=acc_dtype, device=bias.device) if need_b else None
        with torch.autocast(hidden.device.type, enabled=False):
            w, b = weight.to(cdt), None if bias is None else bias.to(cdt)
            for s in range(0, hidden.shape[0], chunk):
                h = hidden[s : s + chunk].to(cdt)
                logp = _chunk_logp(h, w, b, scale)  # [n, V]
                p = logp.exp()  # [n, V]
                if g_ent is not None:  # dH/dz = -p * (log p + H), built in logp's buffer
                    dz = logp.add_(ent[s : s + chunk, None]).mul_(p).mul_(-g_ent[s : s + chunk, None])
                else:
                    dz = logp.zero_()
                if g_lp is not None:  # dlogp_y/dz = onehot(y) - p
                    gl = g_lp[s : s + chunk, None]
                    dz.sub_(p.mul_(gl))
                    dz.scatter_add_(-1, labels[s : s + chunk, None], gl.to(dz.dtype))
                del p
                if scale != 1.0:
                    dz.mul_(scale)
                dz_c = dz.to(cdt)
                if need_h:
                    grad_h[s : s + chunk] = (dz_c @ w).to(hidden.dtype)
                if need_w:
                    if cdt == acc_dtype:
                        grad_w.addmm_(dz_c.t(), h)
                    else:
                        grad_w += (dz_c.t() @ h).to(acc_dtype)
                if need_b:
                    grad_b += dz.sum(0).to(acc_dtype)
        if grad_w is not None:
            grad_w = grad_w.to(weight.dtype)
        if grad_b is not None:
            grad_b = grad_b.to(bias.dtype)
        return grad_h, grad_w, grad_b, None, None, None


def chunked_logprobs_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    scale: float = 1.0,
    chunk_tokens: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-prob of ``labels`` and entropy, chunked in forward and backward.

    Args:
        hidden: ``[N, H]`` final hidden states (any float dtype; the head matmul runs in it).
        weight: ``[V, H]`` LM-head weight (tied or not).
        labels: ``[N]`` long, the token whose log-prob is wanted at each position.
        bias: optional ``[V]`` LM-head bias.
        scale: multiplies the logits (``logit_scale / temperature``).
        chunk_tokens: positions per chunk; peak extra memory ~ a few x ``chunk_tokens x V`` fp32.
    Returns:
        ``(logprobs [N], entropy [N])``, float32 (float64 for float64 inputs); differentiable
        w.r.t. hidden, weight and bias.
    """
    if hidden.dim() != 2 or weight.dim() != 2 or labels.dim() != 1:
        raise ValueError(
            f"expected hidden [N,H], weight [V,H], labels [N]; got {tuple(hidden.shape)}, "
            f"{tuple(weight.shape)}, {tuple(labels.shape)}"
        )
    if hidden.shape[0] != labels.shape[0] or hidden.shape[1] != weight.shape[1]:
        raise ValueError("shape mismatch between hidden, weight and labels")
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be >= 1")
    return _ChunkedLogprobEntropy.apply(hidden, weight, bias, labels.long(), float(scale), int(chunk_tokens))


def naive_logprobs_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: same contract as ``chunked_logprobs_entropy``, materialising all logits."""
    z = hidden @ weight.t()
    if bias is not None:
        z = z + bias
    z = z.double() if z.dtype == torch.float64 else z.float()
    logp = torch.log_softmax(z * float(scale), dim=-1)
    lp = logp.gather(-1, labels.long()[:, None]).squeeze(-1)
    ent = -(logp.exp() * logp).sum(-1)
    return lp, ent


def lm_head_params(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """``(weight [V,H], bias [V] | None, logit_scale)`` of a HF causal LM's output layer.

    Tied embeddings need nothing special: the head's weight *is* the embedding parameter.
    Models with logit soft-capping are rejected (not supported by the chunked head).
    """
    head = model.get_output_embeddings()
    if head is None or not hasattr(head, "weight"):
        raise ValueError(f"{type(model).__name__} has no linear output layer")
    cfg = getattr(model, "config", None)
    if getattr(cfg, "final_logit_softcapping", None):
        raise NotImplementedError("final_logit_softcapping is not supported by the chunked LM head")
    scale = float(getattr(model, "logit_scale", None) or getattr(cfg, "logit_scale", None) or 1.0)
    return head.weight, getattr(head, "bias", None), scale


def backbone_hidden_states(
    model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Final hidden states ``[B, T, H]`` of a HF causal LM (no LM head, no logits).

    ``position_ids`` come from the attention mask, so left or right padding both work.
    """
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model.base_model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
    )
    return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]


def policy_logprobs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    score_mask: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    chunk_tokens: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs and entropies of a causal LM, positions aligned with ``input_ids``.

    Args:
        model: a HF ``*ForCausalLM``.
        input_ids: ``[B, T]`` long.
        attention_mask: ``[B, T]`` (1 = real token).
        score_mask: ``[B, T]``, positions to score (e.g. the response mask); default: every
            attended position but the first. Position 0 can never be scored.
        temperature: logits are divided by it (as when sampling; the PPO ratio and the
            entropy then refer to the sampling distribution).
        chunk_tokens: LM-head chunk size.
    Returns:
        ``(logprobs [B, T], entropy [B, T])`` float32: ``logprobs[b, t] = log p(x_t | x_<t)``,
        ``entropy[b, t]`` = entropy of the distribution that predicted ``x_t``; 0 where not scored.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0 for log-probs")
    B, T = input_ids.shape
    if score_mask is None:
        score_mask = attention_mask.clone()
        score_mask[:, 0] = 0
    if score_mask[:, 0].any():
        raise ValueError("position 0 has no preceding context and cannot be scored")
    hidden = backbone_hidden_states(model, input_ids, attention_mask)  # [B, T, H]
    weight, bias, logit_scale = lm_head_params(model)
    sel = score_mask[:, 1:].bool()  # predicting token t+1 from position t
    h = hidden[:, :-1][sel]  # [N, H]
    labels = input_ids[:, 1:][sel]  # [N]
    lp, ent = chunked_logprobs_entropy(
        h, weight, labels, bias=bias, scale=logit_scale / temperature, chunk_tokens=chunk_tokens
    )
    out_lp = lp.new_zeros((B, T))
    out_ent = ent.new_zeros((B, T))
    full = torch.zeros((B, T), dtype=torch.bool, device=input_ids.device)
    full[:, 1:] = sel
    out_lp = out_lp.masked_scatter(full, lp)
    out_ent = out_ent.masked_scatter(full, ent)
    return out_lp, out_ent
