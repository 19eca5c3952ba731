"""Batched sampling from a Hugging Face causal LM (CPU and GPU), behind ``RolloutEngine``.

The model's forward runs in our own decode loop (``azr.rollout.decode``), not HF ``generate``:

- Memory-planned sub-batches: completions are sorted by prompt length (longest first) and
  grouped so that each sub-batch holds at most ``rollout.max_batch_size`` rows and its KV
  cache, rows x (widest prompt + response budget) tokens, fits ``rollout.max_batch_tokens``
  and/or ``rollout.kv_cache_gb``; results come back in prompt order.
- Finished rows stop costing compute: every ``rollout.decode_chunk`` steps the rows that ended
  (EOS, or a stop string in their text) leave the batch and their cache rows are dropped.
- Seeded per row: completion j of a call (prompt i, sample k: j = i * n + k) samples with
  uniforms that are a pure function of (seed, j, step), so its tokens do not depend on the
  split into sub-batches, the chunk length or the device's RNG; the global torch RNG is
  untouched. With ``seed=None`` one base seed is drawn from the global torch RNG.
- Temperature and top-p are applied by ``_TemperatureTopP``; the recorded log-probs are those
  of the distribution actually sampled from (for greedy decoding, the plain softmax). The
  model's ``generation_config.json`` sampling defaults (e.g. Qwen's top-k 20) are ignored.
- Stop strings end a completion (finish "stop"); text and tokens are cut right after the
  first stop string (``_finalize``).
- GPU: a pre-allocated (static) KV cache per sub-batch (``cache_implementation="auto"``; no
  growth by concatenation) and, when the weights are fp32 (the trainer's master copy),
  sampling from a bf16 copy of them, refreshed from the policy at every ``generate`` call
  (``Bf16Copy``; 2 extra bytes per parameter). Not bf16 autocast: under autocast Qwen2's keys
  come out fp32 (RoPE) and its values bf16, which the static cache of transformers 5.17
  rejects (seen on an H200). CPU: the policy itself and a growing (dynamic) cache. The
  forward runs eagerly (no ``torch.compile``/CUDA graphs; see BENCHMARKS.md).
- The engine holds the policy module itself: when trainer and engine share one device, pass
  the trainer's model and no weight sync is needed; otherwise ``sync_weights``. A policy
  sharded with FSDP2 (``fully_shard``) is sampled from a full copy all-gathered at every
  ``generate`` call (``GatheredCopy``; every rank must call ``generate``, also with no prompts).
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import torch
from torch import nn

from azr.rollout.config import RolloutConfig
from azr.rollout.decode import DecodeSettings, decode, kv_bytes_per_token, plan_sub_batches, row_seed
from azr.rollout.types import Completion, SamplingParams


class _TemperatureTopP:
    """Logits processor: divide by the temperature, then mask outside the top-p nucleus."""

    def __init__(self, temperature: float, top_p: float):
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        """``[B, V]`` logits -> ``[B, V]`` float32 scores."""
        scores = scores.float()
        if self.temperature > 0 and self.temperature != 1.0:
            scores = scores / self.temperature
        if self.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, dim=-1, descending=False)
            cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
            remove_sorted = cum <= (1.0 - self.top_p)
            remove_sorted[..., -1] = False  # always keep the most likely token
            remove = remove_sorted.scatter(-1, order, remove_sorted)
            scores = scores.masked_fill(remove, float("-inf"))
        return scores


class Bf16Copy:
    """A bf16 copy of a module's parameters for sampling, refreshed in place from the source.

    Buffers (e.g. RoPE frequencies) are copied as they are; tied parameters stay tied. The
    copy never receives gradients; ``refresh`` is one cast-copy pass over the weights (reads 4
    and writes 2 bytes per parameter: bandwidth-bound, small next to sampling).
    """

    def __init__(self, source: nn.Module):
        params = dict(source.named_parameters())
        memo = {id(p): nn.Parameter(p.detach().to(torch.bfloat16), requires_grad=False) for p in params.values()}
        self.module = copy.deepcopy(source, memo)
        mine = dict(self.module.named_parameters())
        if mine.keys() != params.keys():
            raise ValueError("bf16 copy does not mirror the source's parameters")
        self._pairs = [(params[k], mine[k]) for k in params]

    @torch.no_grad()
    def refresh(self) -> nn.Module:
        """Copy the source's current weights into the bf16 copy; returns the copy."""
        for src, dst in self._pairs:
            dst.copy_(src)
        return self.module


def is_sharded(module: nn.Module) -> bool:
    """Whether any parameter is a ``DTensor`` (the module was sharded with FSDP2 ``fully_shard``)."""
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # a torch build without distributed
        return False
    return any(isinstance(p, DTensor) for p in module.parameters())


class GatheredCopy:
    """A full, unsharded copy of an FSDP2-sharded causal LM for sampling, in ``dtype``.

    Built on the meta device from the source's class and config, then given real tensors:
    one per distinct source parameter (tied parameters share one), and the source's buffers
    (RoPE frequencies: not sharded) as they are. ``refresh`` all-gathers every parameter
    (``DTensor.full_tensor``, one at a time) into it: a collective, so every rank must call it
    in the same order; the engine does at every ``generate`` call, also with no prompts.
    Memory: one full copy per rank (2 bytes per parameter in bf16), as ``azr.plan`` counts.
    """

    def __init__(self, source: nn.Module, dtype: torch.dtype, device: torch.device):
        with torch.device("meta"):
            self.module = type(source)(source.config)
        self._pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        made: dict[int, torch.Tensor] = {}
        for name, p in source.named_parameters(remove_duplicate=False):
            if id(p) not in made:
                made[id(p)] = torch.empty(tuple(p.shape), dtype=dtype, device=device)
                self._pairs.append((p, made[id(p)]))
            owner, leaf = _split(self.module, name)
            owner._parameters[leaf] = nn.Parameter(made[id(p)], requires_grad=False)
        for name, b in source.named_buffers():
            owner, leaf = _split(self.module, name)
            owner._buffers[leaf] = b.detach().clone()
        left = [n for n, t in [*self.module.named_parameters(), *self.module.named_buffers()] if t.is_meta]
        if left:
            raise ValueError(f"gathered copy: no source tensor for {left[:3]}")
        self.module.eval()

    @torch.no_grad()
    def refresh(self) -> nn.Module:
        """All-gather the source's current weights into the copy (collective); returns the copy."""
        for src, dst in self._pairs:
            dst.copy_(src.full_tensor() if hasattr(src, "full_tensor") else src)
        return self.module


def _split(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    prefix, _, leaf = name.rpartition(".")
    return (module.get_submodule(prefix) if prefix else module), leaf


class HFEngine:
    """A ``RolloutEngine`` over a Hugging Face causal LM and its tokenizer.

    Args:
        model: the policy (any ``AutoModelForCausalLM``); may be the trainer's own module.
        tokenizer: its tokenizer; must have a pad token (``load_tokenizer`` ensures it).
        config: defaults for batching, cache and chat template.
    """

    def __init__(self, model: nn.Module, tokenizer, config: RolloutConfig | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or RolloutConfig()
        self._bf16: Bf16Copy | GatheredCopy | None = None
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer needs a pad token (use azr.rollout.models.load_tokenizer)")
        eos = getattr(model.generation_config, "eos_token_id", None)
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids: tuple[int, ...] = tuple(eos) if isinstance(eos, (list, tuple)) else (eos,)
        if None in self.eos_ids:
            raise ValueError("neither the model's generation config nor the tokenizer defines EOS")

    # ------------------------------------------------------------------ weights
    def sync_weights(self, source: nn.Module | Mapping[str, torch.Tensor]) -> None:
        """Copy weights from a trainer module or a state dict into the engine's model.

        A no-op when ``source`` is the engine's own model (shared module on one device).
        """
        if source is self.model:
            return
        state = source.state_dict() if isinstance(source, nn.Module) else source
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not _is_tied(self.model, k)]:
            raise ValueError(f"weight sync mismatch: missing={missing} unexpected={unexpected}")

    # ------------------------------------------------------------------ prompts
    def encode_prompts(self, prompts: Sequence[str]) -> list[list[int]]:
        """The token ids the engine conditions on for each prompt (chat template applied if set)."""
        if self.config.chat_template:
            texts = [
                self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                )
                for p in prompts
            ]
            return [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        return [self.tokenizer(p)["input_ids"] for p in prompts]

    # ------------------------------------------------------------------ sampling
    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt (in order), ``params.n`` completions."""
        if isinstance(prompts, str):
            raise TypeError("generate() takes a sequence of prompts, not a single string")
        encoded = self.encode_prompts(prompts)
        if any(len(ids) == 0 for ids in encoded):
            raise ValueError("empty prompt (no tokens)")
        flat = [(i, ids) for i, ids in enumerate(encoded) for _ in range(params.n)]
        order = sorted(range(len(flat)), key=lambda j: -len(flat[j][1]))  # stable
        base = params.seed
        if base is None:  # one draw from the global torch RNG (advances it)
            base = int(torch.randint(0, 2**62, (1,)).item())
        seeds = [row_seed(base, j) for j in range(len(flat))]
        results: list[Completion | None] = [None] * len(flat)
        device = next(self.model.parameters()).device
        if device.type == "cpu" and is_sharded(self.model) \
                and next(self.model.parameters()).device_mesh.device_type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())  # FSDP2 shards offloaded to the CPU
        model = self._sampling_model(device)
        settings = DecodeSettings(
            max_new_tokens=params.max_new_tokens, eos_ids=self.eos_ids, pad_id=self.tokenizer.pad_token_id,
            chunk=self.config.decode_chunk, prefill_tokens=self.config.prefill_tokens, greedy=params.temperature == 0,
            static_cache=self._cache_implementation(device) == "static",
        )
        process = _TemperatureTopP(params.temperature, params.top_p)
        stopped = self._stop_check(params.stop) if params.stop else None
        widths = [len(flat[j][1]) for j in order]
        was_training = model.training
        model.eval()
        try:
            for start, end in plan_sub_batches(widths, params.max_new_tokens, self.config.max_batch_size,
                                               self.max_batch_tokens(model)):
                idx = order[start:end]
                rows = decode(model, [flat[j][1] for j in idx], [seeds[j] for j in idx], settings, process, stopped)
                for j, (toks, lps) in zip(idx, rows):
                    results[j] = self._finalize(toks, lps, params.stop, tuple(flat[j][1]))
        finally:
            model.train(was_training)
        grouped: list[list[Completion]] = [[] for _ in prompts]
        for (i, _), c in zip(flat, results):
            grouped[i].append(c)
        return grouped

    def max_batch_tokens(self, model: nn.Module | None = None) -> int:
        """The KV-cache token budget of one sub-batch (0 = none): the smaller of
        ``rollout.max_batch_tokens`` and ``rollout.kv_cache_gb`` in tokens of ``model``."""
        limits = [self.config.max_batch_tokens] if self.config.max_batch_tokens > 0 else []
        if self.config.kv_cache_gb > 0:
            model = model if model is not None else self.model
            per_token = kv_bytes_per_token(model.config, next(model.parameters()).dtype)
            limits.append(max(1, int(self.config.kv_cache_gb * 2**30 // per_token)))
        return min(limits, default=0)

    def _stop_check(self, stop: tuple[str, ...]):
        """``(tokens, checked) -> bool``: a stop string in the text of the tokens after ``checked``
        (with a margin of tokens before it, so a string split over the boundary is seen)."""
        margin = 4 * max(len(s) for s in stop) + 4

        def stopped(tokens: list[int], checked: int) -> bool:
            text = self.tokenizer.decode(tokens[max(0, checked - margin):], skip_special_tokens=False)
            return any(s in text for s in stop)

        return stopped

    def _sampling_model(self, device: torch.device) -> nn.Module:
        """The policy; on GPU with fp32 weights (and ``gpu_bf16``) its refreshed bf16 copy; for
        an FSDP2-sharded policy a refreshed full copy (bf16 on that condition, else the
        weights' dtype)."""
        weights_fp32 = next(self.model.parameters()).dtype == torch.float32
        to_bf16 = device.type == "cuda" and self.config.gpu_bf16 and weights_fp32
        if is_sharded(self.model):
            if self._bf16 is None:
                dtype = torch.bfloat16 if to_bf16 else next(self.model.parameters()).dtype
                self._bf16 = GatheredCopy(self.model, dtype, device)
            return self._bf16.refresh()
        if not to_bf16:
            return self.model
        if self._bf16 is None:
            self._bf16 = Bf16Copy(self.model)
        return self._bf16.refresh()

    def _cache_implementation(self, device: torch.device) -> str:
        impl = self.config.cache_implementation
        if impl == "auto":
            impl = "static" if device.type == "cuda" else "dynamic"
        return impl

    def _finalize(
        self, tokens: list[int], logprobs: list[float], stop: tuple[str, ...], prompt: tuple[int, ...]
    ) -> Completion:
        """Cut one generated row at EOS / the first stop string; see ``Completion``."""
        eos_at = next((k for k, t in enumerate(tokens) if t in self.eos_ids), None)
        body = tokens if eos_at is None else tokens[:eos_at]
        decode = lambda ids: self.tokenizer.decode(ids, skip_special_tokens=False)  # noqa: E731
        text = decode(body)
        hits = [(text.find(s), s) for s in stop if s in text]
        if hits:
            pos, s = min(hits)
            end = pos + len(s)
            lo, hi = 1, len(body)  # smallest prefix whose text reaches the stop string's end
            while lo < hi:
                mid = (lo + hi) // 2
                if len(decode(body[:mid])) >= end and decode(body[:mid])[:end] == text[:end]:
                    hi = mid
                else:
                    lo = mid + 1
            return Completion(tuple(body[:lo]), text[:end], tuple(logprobs[:lo]), "stop", prompt)
        if eos_at is not None:
            n = eos_at + 1
            return Completion(tuple(tokens[:n]), text, tuple(logprobs[:n]), "eos", prompt)
        return Completion(tuple(tokens), text, tuple(logprobs[: len(tokens)]), "length", prompt)


def _is_tied(model: nn.Module, name: str) -> bool:
    """Whether parameter ``name`` shares storage with another parameter (tied weights)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    if name not in params:
        return False
    ptr = params[name].data_ptr()
    return any(k != name and p.data_ptr() == ptr for k, p in params.items())
