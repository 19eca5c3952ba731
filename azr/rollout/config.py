"""Configuration of the policy model and the rollout engine (torch-free, frozen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azr.rollout.types import SamplingParams

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
CACHE_IMPLEMENTATIONS = ("auto", "dynamic", "static")


@dataclass(frozen=True)
class ModelConfig:
    """Which causal LM to load and how."""

    path: str = ""  # local folder (or hub id where reachable) loadable with from_pretrained
    dtype: str = "float32"  # weight dtype: float32 keeps fp32 master weights (bf16 autocast on GPU);
    # "auto" = the checkpoint's dtype; bfloat16 halves memory (pure-bf16 training, less exact)
    device: str = "auto"  # "auto" = cuda when available, else cpu
    trust_remote_code: bool = False  # passed to from_pretrained (never needed for Qwen2/Llama)
    attn_implementation: str | None = None  # e.g. "sdpa", "eager", "flash_attention_2"; None = HF default
    gradient_checkpointing: bool = False  # trade compute for activation memory in the update step

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got {self.device!r}")


@dataclass(frozen=True)
class RolloutConfig:
    """Sampling defaults of the rollout engine (AZR: temperature 1.0, top-p 1.0)."""

    temperature: float = 1.0  # softmax temperature of rollouts (AZR: 1.0)
    top_p: float = 1.0  # nucleus sampling mass (AZR: 1.0, i.e. off)
    max_new_tokens: int = 256  # response budget per completion (the paper's runs: up to 8k)
    stop: tuple[str, ...] = ()  # stop strings; the trainer passes e.g. ("</answer>",)
    max_batch_size: int = 64  # most sequences per sub-batch; larger generate() calls are split
    max_batch_tokens: int = 0  # KV-cache tokens per sub-batch, rows x (widest prompt + max_new_tokens);
    # 0 = no limit (rows only). `azr train --plan` prints a value that fits the GPU
    kv_cache_gb: float = 0.0  # the same limit in GiB of K/V (converted with the model's config and
    # sampling dtype); 0 = off; with both set the smaller one holds
    decode_chunk: int = 64  # decoding steps between dropping finished rows and checking stop strings
    prefill_tokens: int = 16384  # rows x prompt tokens per prefill forward: long prompts of a large
    # sub-batch are prefilled in slices of columns (bounds the prefill's activations; same results)
    cache_implementation: str = "auto"  # KV cache: "auto" = static on GPU (pre-allocated per
    # sub-batch, no growth by concatenation), dynamic on CPU (grows; no pre-allocation);
    # "dynamic" | "static" force one
    gpu_bf16: bool = True  # on GPU, sample from a bf16 copy of fp32 weights (refreshed every generate call)
    chat_template: bool = False  # wrap each prompt as one user turn with the tokenizer's chat template

    def __post_init__(self) -> None:
        if self.cache_implementation not in CACHE_IMPLEMENTATIONS:
            raise ValueError(
                f"cache_implementation must be one of {CACHE_IMPLEMENTATIONS}, "
                f"got {self.cache_implementation!r}"
            )
        if not self.temperature >= 0:  # also refuses NaN
            raise ValueError(f"rollout.temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"rollout.top_p must be in (0, 1], got {self.top_p}")
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.max_batch_tokens < 0 or self.kv_cache_gb < 0:
            raise ValueError("max_batch_tokens and kv_cache_gb must be >= 0 (0 = no limit)")
        if self.decode_chunk < 1 or self.prefill_tokens < 1:
            raise ValueError("decode_chunk and prefill_tokens must be >= 1")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif isinstance(self.stop, list):
            object.__setattr__(self, "stop", tuple(self.stop))

    def sampling_params(self, n: int = 1, seed: int | None = None) -> "SamplingParams":
        """The ``SamplingParams`` these defaults describe, with ``n`` samples per prompt."""
        from azr.rollout.types import SamplingParams

        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            n=n,
            stop=self.stop,
            seed=seed,
        )
