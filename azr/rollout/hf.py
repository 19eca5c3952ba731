"""Batched sampling with Hugging Face ``generate`` (CPU and GPU), behind ``RolloutEngine``.

- Left-padded batches of at most ``RolloutConfig.max_batch_size`` sequences (prompts sorted by
  length so that batches pad little; results come back in prompt order).
- Seeded: with ``SamplingParams.seed`` set, sampling runs under a forked torch RNG seeded with
  it, so the same seed gives the same outputs on one device and the global RNG is untouched;
  with ``seed=None`` the global torch RNG is used (and advanced).
- Temperature and top-p are applied by our own logits processors, followed by a recorder, so
  the recorded log-probs are those of the distribution actually sampled from (after
  temperature and top-p). HF's own warpers are disabled (a fresh ``GenerationConfig``: the
  model's ``generation_config.json`` sampling defaults, e.g. Qwen's top-k 20, are ignored).
- Stop strings end a completion early (HF ``stop_strings``); text and tokens are truncated
  right after the first stop string (finish "stop").
- GPU: the static KV cache (HF compiles the forward for it on CUDA) and, when the weights are
  fp32 (the trainer's master copy), sampling from a bf16 copy of them, refreshed from the
  policy at every ``generate`` call (``Bf16Copy``; 2 extra bytes per parameter). Not bf16
  autocast: under autocast Qwen2's keys come out fp32 (RoPE) and its values bf16, which the
  static cache of transformers 5.17 rejects (seen on an H200). CPU: the policy itself and the
  dynamic cache (on par with static except at batch 128; see BENCHMARKS.md,
  benchmarks/rollout.py).
- The engine holds the policy module itself: when trainer and engine share one device, pass
  the trainer's model and no weight sync is needed; otherwise ``sync_weights``.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Mapping, Sequence

import torch
from torch import nn

from azr.rollout.config import RolloutConfig
from azr.rollout.types import Completion, SamplingParams


class _TemperatureTopP:
    """Logits processor: divide by the temperature, then mask outside the top-p nucleus."""

    def __init__(self, temperature: float, top_p: float):
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
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


class _LogprobRecorder:
    """Logits processor (last in the chain) recording the sampled tokens' log-probs.

    At step t it stores log_softmax of the final scores ``[B, V]``; at step t+1 the last column
    of ``input_ids`` is the token sampled at step t, whose log-prob is gathered. ``finish``
    gathers the last step from the returned sequences. Only one step's ``[B, V]`` is kept.
    """

    def __init__(self) -> None:
        self._prev: torch.Tensor | None = None
        self.steps: list[torch.Tensor] = []  # each [B]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._prev is not None:
            self.steps.append(self._prev.gather(-1, input_ids[:, -1:]).squeeze(-1))
        self._prev = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        """``last_tokens [B]`` -> log-probs ``[B, steps]`` (float32, on CPU)."""
        if self._prev is not None:
            self.steps.append(self._prev.gather(-1, last_tokens[:, None]).squeeze(-1))
            self._prev = None
        return torch.stack(self.steps, dim=1).cpu()


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
        self._bf16: Bf16Copy | None = None
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
        results: list[Completion | None] = [None] * len(flat)
        device = next(self.model.parameters()).device
        rng = (
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
            if params.seed is not None
            else contextlib.nullcontext()
        )
        model = self._sampling_model(device)
        was_training = model.training
        model.eval()
        try:
            with rng, torch.inference_mode():
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                bs = self.config.max_batch_size
                for start in range(0, len(order), bs):
                    idx = order[start : start + bs]
                    outs = self._generate_batch(model, [flat[j][1] for j in idx], params, device)
                    for j, c in zip(idx, outs):
                        results[j] = c
        finally:
            model.train(was_training)
        grouped: list[list[Completion]] = [[] for _ in prompts]
        for (i, _), c in zip(flat, results):
            grouped[i].append(c)
        return grouped

    def _sampling_model(self, device: torch.device) -> nn.Module:
        """The policy, or on GPU with fp32 weights (and ``gpu_bf16``) its refreshed bf16 copy."""
        weights_fp32 = next(self.model.parameters()).dtype == torch.float32
        if not (device.type == "cuda" and self.config.gpu_bf16 and weights_fp32):
            return self.model
        if self._bf16 is None:
            self._bf16 = Bf16Copy(self.model)
        return self._bf16.refresh()

    def _cache_implementation(self, device: torch.device) -> str | None:
        impl = self.config.cache_implementation
        if impl == "auto":
            impl = "static" if device.type == "cuda" else "dynamic"
        return "static" if impl == "static" else None

    def _generate_batch(
        self, model: nn.Module, prompt_ids: list[list[int]], params: SamplingParams, device: torch.device
    ) -> list[Completion]:
        from transformers import GenerationConfig, LogitsProcessorList

        pad = self.tokenizer.pad_token_id
        width = max(len(p) for p in prompt_ids)
        input_ids = torch.full((len(prompt_ids), width), pad, dtype=torch.long)
        attention = torch.zeros((len(prompt_ids), width), dtype=torch.long)
        for r, ids in enumerate(prompt_ids):
            input_ids[r, width - len(ids) :] = torch.tensor(ids)
            attention[r, width - len(ids) :] = 1
        greedy = params.temperature == 0
        gen_cfg = GenerationConfig(
            do_sample=not greedy,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            max_new_tokens=params.max_new_tokens,
            eos_token_id=list(self.eos_ids),
            pad_token_id=pad,
            stop_strings=list(params.stop) or None,
            cache_implementation=self._cache_implementation(device),
        )
        recorder = _LogprobRecorder()
        processors = LogitsProcessorList(
            [*([] if greedy else [_TemperatureTopP(params.temperature, params.top_p)]), recorder]
        )
        out = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention.to(device),
            generation_config=gen_cfg,
            logits_processor=processors,
            tokenizer=self.tokenizer if params.stop else None,
        )
        new = out[:, width:].cpu()
        logprobs = recorder.finish(out[:, -1])
        return [
            self._finalize(new[r].tolist(), logprobs[r].tolist(), params.stop, tuple(prompt_ids[r]))
            for r in range(len(prompt_ids))
        ]

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
