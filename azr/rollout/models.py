"""Loading Hugging Face causal LMs and tokenizers (local folders; hub ids where reachable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from azr.rollout.config import ModelConfig

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    return dev


def load_tokenizer(path: str, *, trust_remote_code: bool = False) -> "PreTrainedTokenizerBase":
    """Load a tokenizer with left padding (transformers 5 does not save ``padding_side``).

    A tokenizer without a pad token gets its EOS token as pad token.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, padding_side="left", trust_remote_code=trust_remote_code)
    if tok.pad_token_id is None:
        if tok.eos_token is None:
            raise ValueError(f"tokenizer at {path!r} has neither a pad nor an EOS token")
        tok.pad_token = tok.eos_token
    return tok


def load_model(config: "ModelConfig") -> "PreTrainedModel":
    """Load the causal LM of ``config`` onto its device, in training mode."""
    from transformers import AutoModelForCausalLM

    if not config.path:
        raise ValueError("ModelConfig.path is empty: give a local folder or a hub id")
    kwargs: dict = {"trust_remote_code": config.trust_remote_code}
    kwargs["dtype"] = "auto" if config.dtype == "auto" else _DTYPES[config.dtype]
    if config.attn_implementation is not None:
        kwargs["attn_implementation"] = config.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(config.path, **kwargs)
    model.to(resolve_device(config.device))
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    model.train()
    return model


def load_policy(config: "ModelConfig") -> tuple["PreTrainedModel", "PreTrainedTokenizerBase"]:
    """``(model, tokenizer)`` of ``config``."""
    return load_model(config), load_tokenizer(config.path, trust_remote_code=config.trust_remote_code)
