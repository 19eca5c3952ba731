"""The decode loop behind ``HFEngine``: memory-planned sub-batches, per-row seeded sampling,
finished rows dropped between chunks.

Three pure parts and one loop:

- ``plan_sub_batches(widths, max_new_tokens, max_rows, max_tokens)``: rows (longest prompt
  first) grouped so that each sub-batch's KV cache, rows x (its widest prompt +
  ``max_new_tokens``) tokens, stays within ``max_tokens`` (and at most ``max_rows`` rows).
- ``row_seed(seed, row)`` and ``row_uniform(row_seed, step)``: one uniform number per row and
  decoding step, a pure function of (seed, row, step) (SplitMix64 in Python integers), so a
  row's tokens do not depend on which other rows share its batch, on the batch size, on the
  chunk length or on the device's RNG.
- ``sample_tokens(scores, uniforms)``: inverse-CDF sampling of one token per row ``[B, V] ->
  [B]``, plus the log-probs of the tokens under ``scores``.
- ``decode(...)``: prefill each distinct prompt once (the n samples of a prompt share it; its
  cache rows are then repeated) in slices of prompt columns (at most ``prefill_tokens`` rows x
  columns per forward, so the prefill's activations stay bounded), then decode one token per
  step for every live row; every ``chunk`` steps the rows that ended (EOS, or a stop string
  seen in their text) leave the batch and their KV cache rows are dropped, so finished rows
  stop costing compute and memory. Tokens generated after a stop string inside a chunk are
  cut later by the engine (``HFEngine._finalize``), so the results do not depend on ``chunk``.

Shapes: B rows in a sub-batch, W its left-padded prompt width, V the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """One SplitMix64 output for state ``x`` (a bijective 64-bit mix; Python ints, exact)."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def row_seed(seed: int, row: int) -> int:
    """The 64-bit seed of row ``row`` (a completion's index in its ``generate`` call) under ``seed``."""
    return _splitmix64(_splitmix64(seed & _MASK64) ^ (row & _MASK64))


def row_uniform(seed: int, step: int) -> float:
    """A uniform number in [0, 1) for a row with seed ``seed`` at decoding step ``step``."""
    return (_splitmix64(seed ^ _splitmix64(step)) >> 11) * (1.0 / (1 << 53))


def sample_tokens(scores: torch.Tensor, uniforms: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one token per row from ``softmax(scores)`` by inverting its CDF at ``uniforms``.

    Args:
        scores: ``[B, V]`` final scores (after temperature and top-p; ``-inf`` = excluded).
        uniforms: ``[B]`` float64 numbers in [0, 1); ``None`` = greedy (argmax).
    Returns:
        ``(tokens [B] long, logprobs [B] float32)``: the tokens and their log-probabilities
        under ``log_softmax(scores)``.
    """
    scores = scores.float()
    logp = torch.log_softmax(scores, dim=-1)
    if uniforms is None:
        tokens = scores.argmax(dim=-1)
    else:
        probs = logp.exp()
        cdf = probs.double().cumsum(dim=-1)
        target = uniforms.to(cdf.device, torch.float64) * cdf[:, -1]
        tokens = torch.searchsorted(cdf, target[:, None], right=True).squeeze(-1)
        # never a zero-probability token, even if rounding put the target at the very top
        last = probs.shape[-1] - 1 - (probs > 0).flip(-1).int().argmax(dim=-1)
        tokens = torch.minimum(tokens, last)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)


def plan_sub_batches(
    widths: Sequence[int], max_new_tokens: int, max_rows: int, max_tokens: int = 0
) -> list[tuple[int, int]]:
    """Split rows (sorted by prompt length, longest first) into ``[start, end)`` sub-batches.

    A sub-batch's KV cache holds rows x (its first, widest prompt + ``max_new_tokens``)
    tokens; it takes rows while that stays within ``max_tokens`` (0 = no token limit) and the
    rows stay within ``max_rows``. A row too long for ``max_tokens`` on its own runs alone.
    """
    if any(a < b for a, b in zip(widths, widths[1:])):
        raise ValueError("widths must be sorted longest first")
    out: list[tuple[int, int]] = []
    start = 0
    while start < len(widths):
        per_row = widths[start] + max_new_tokens
        rows = max_rows if max_tokens <= 0 else max(1, min(max_rows, max_tokens // per_row))
        end = min(len(widths), start + rows)
        out.append((start, end))
        start = end
    return out


def kv_bytes_per_token(config, dtype: torch.dtype) -> int:
    """Bytes of K and V per token of a HF decoder ``config`` in ``dtype`` (all layers)."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return config.num_hidden_layers * 2 * kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()


def _cache_keyword(model: nn.Module) -> str:
    """The forward's name for the KV cache: ``cache`` (newer transformers 5.x) or ``past_key_values``."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _select_rows(cache, index: torch.Tensor) -> None:
    """Keep only rows ``index [B']`` of every layer of a HF ``DynamicCache`` / ``StaticCache``
    (new, smaller tensors: the dropped rows' memory is freed)."""
    for layer in cache.layers:
        if getattr(layer, "keys", None) is None or layer.keys.numel() == 0:
            continue
        layer.keys = layer.keys.index_select(0, index)
        layer.values = layer.values.index_select(0, index)
        if hasattr(layer, "batch_size"):
            layer.batch_size = int(index.numel())


@dataclass(frozen=True)
class DecodeSettings:
    """What one ``decode`` call needs besides the model and the prompts."""

    max_new_tokens: int
    eos_ids: tuple[int, ...]
    pad_id: int
    chunk: int = 64  # steps between compactions (and stop-string checks)
    prefill_tokens: int = 16384  # rows x prompt columns per prefill forward (bounds its activations)
    greedy: bool = False
    static_cache: bool = False  # a pre-allocated cache of W + max_new_tokens per row (else growing)


ScoreFn = Callable[[torch.Tensor], torch.Tensor]  # [B, V] logits -> [B, V] final scores
StopFn = Callable[[list[int], int], bool]  # (generated tokens, tokens already checked) -> a stop string seen


@torch.inference_mode()
def decode(
    model: nn.Module,
    prompts: Sequence[Sequence[int]],
    seeds: Sequence[int],
    settings: DecodeSettings,
    process: ScoreFn,
    stopped: StopFn | None = None,
) -> list[tuple[list[int], list[float]]]:
    """Generate for one sub-batch; for each row ``(tokens, logprobs)``.

    A row's tokens run up to and including its first EOS, or to ``max_new_tokens``; a row that
    produced a stop string may carry up to ``chunk`` tokens past it (the engine cuts them).

    Args:
        model: a HF causal LM (eval mode), on its device.
        prompts: B prompt token lists.
        seeds: B row seeds (``row_seed``), used when not greedy.
        settings: budget, EOS / pad ids, chunk, greedy, cache kind.
        process: logits ``[B, V]`` -> scores ``[B, V]`` (temperature, top-p).
        stopped: whether a row's generated tokens contain a stop string (checked per chunk).
    """
    from transformers import DynamicCache, StaticCache

    device = next(model.parameters()).device
    b, width = len(prompts), max(len(p) for p in prompts)
    # rows with the same prompt as the row before (the n samples of one prompt) share its prefill
    source = [0] * b
    for r in range(1, b):
        source[r] = source[r - 1] if list(prompts[r]) == list(prompts[r - 1]) else r
    unique = sorted(set(source))
    input_ids = torch.full((len(unique), width), settings.pad_id, dtype=torch.long)
    mask = torch.zeros((len(unique), width), dtype=torch.long)
    for u, r in enumerate(unique):
        ids = prompts[r]
        input_ids[u, width - len(ids):] = torch.tensor(list(ids), dtype=torch.long)
        mask[u, width - len(ids):] = 1
    input_ids, mask = input_ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache_kw = _cache_keyword(model)
    if settings.static_cache:
        cache = StaticCache(config=model.config, max_cache_len=width + settings.max_new_tokens)
    else:
        cache = DynamicCache()
    step_cols = max(1, settings.prefill_tokens // len(unique))  # prompt columns per prefill forward
    for lo in range(0, width, step_cols):
        hi = min(width, lo + step_cols)
        out = model(input_ids=input_ids[:, lo:hi], attention_mask=mask[:, :hi], position_ids=positions[:, lo:hi],
                    use_cache=True, logits_to_keep=1, **{cache_kw: cache})
    logits = out.logits[:, -1]
    if len(unique) < b:  # one cache row (and mask, position, logits) per completion
        expand = torch.tensor([unique.index(src) for src in source], device=device)
        _select_rows(cache, expand)
        mask, positions, logits = mask[expand], positions[expand], logits[expand]
    next_pos = positions[:, -1] + 1  # [B]
    live = list(range(b))  # original row of each batch row
    tokens: list[list[int]] = [[] for _ in range(b)]
    logprobs: list[list[float]] = [[] for _ in range(b)]
    checked = [0] * b
    done = [False] * b
    eos = set(settings.eos_ids)
    for step in range(settings.max_new_tokens):
        u = None
        if not settings.greedy:
            u = torch.tensor([row_uniform(seeds[r], step) for r in live], dtype=torch.float64)
        tok, lp = sample_tokens(process(logits), u)
        both = torch.stack([tok.float(), lp.float()]).cpu()  # one device sync (ids < 2**24 are exact)
        tok_list, lp_list = both[0].long().tolist(), both[1].tolist()
        for k, r in enumerate(live):
            if not done[r]:
                tokens[r].append(tok_list[k])
                logprobs[r].append(lp_list[k])
                done[r] = tok_list[k] in eos
        if step + 1 == settings.max_new_tokens:
            break
        if (step + 1) % settings.chunk == 0:
            if stopped is not None:
                for r in live:
                    if not done[r]:
                        done[r] = stopped(tokens[r], checked[r])
                        checked[r] = len(tokens[r])
            keep = [k for k, r in enumerate(live) if not done[r]]
            if not keep:
                break
            if len(keep) < len(live):
                index = torch.tensor(keep, device=device)
                _select_rows(cache, index)
                mask, next_pos, tok = mask[index], next_pos[index], tok[index]
                live = [live[k] for k in keep]
        elif all(done[r] for r in live):
            break
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        out = model(input_ids=tok[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                    use_cache=True, **{cache_kw: cache})
        logits = out.logits[:, -1]
        next_pos = next_pos + 1
    return [(tokens[r], logprobs[r]) for r in range(b)]
