"""Pretraining loop of ``azr-tiny``: a small Qwen2 decoder on the packed corpus.

Step-budgeted (the learning-rate schedule is defined over ``max_steps``, so a run is
deterministic given its seed and step count) with an optional wall-clock cap
(``max_minutes``) that stops early and is reported as such. fp32 by default (bf16
autocast is optional: it was ~10x slower on the build CPU).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict

import numpy as np
import torch

from azr.pretrain.config import ArchitectureConfig, TrainConfig


def build_model(cfg: ArchitectureConfig, tokenizer) -> torch.nn.Module:
    """A randomly initialised ``Qwen2ForCausalLM`` with tied embeddings sized for ``tokenizer``."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    eos = tokenizer.eos_token_id
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        use_sliding_window=False,
    )
    return Qwen2ForCausalLM(config)


def tokenize_documents(docs: Sequence[str], tokenizer, batch: int = 1000) -> np.ndarray:
    """All documents as one ``uint16`` token stream [T], each document followed by EOS."""
    eos = tokenizer.eos_token_id
    if len(tokenizer) > 65535:
        raise ValueError("uint16 token storage needs a vocabulary below 65,536")
    parts: list[np.ndarray] = []
    for start in range(0, len(docs), batch):
        enc = tokenizer(list(docs[start : start + batch]), add_special_tokens=False)["input_ids"]
        for ids in enc:
            parts.append(np.asarray(ids + [eos], dtype=np.uint16))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)


def split_tokens(tokens: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) token streams: the last ``val_fraction`` of the stream is validation."""
    n_val = int(len(tokens) * val_fraction)
    return tokens[: len(tokens) - n_val], tokens[len(tokens) - n_val :]


def lr_at(step: int, cfg: TrainConfig, time_fraction: float = 0.0) -> float:
    """Linear warm-up to ``cfg.lr`` then cosine decay to ``cfg.lr / 10`` at ``max_steps``.

    ``time_fraction`` (elapsed / ``max_minutes``) advances the decay when the clock runs ahead
    of the step count.
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    progress = max(progress, min(1.0, time_fraction))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class Batches:
    """Seeded batches of ``seq_len + 1`` tokens that start at document starts.

    Starting at a document start keeps every episode's instructions in context; the window
    runs on into the following documents (packing).
    """

    def __init__(self, tokens: np.ndarray, eos_id: int, seq_len: int, batch_size: int, seed: int):
        if len(tokens) < seq_len + 2:
            raise ValueError(f"token stream of {len(tokens)} tokens is shorter than seq_len + 2")
        starts = np.flatnonzero(tokens == eos_id) + 1
        starts = np.concatenate([[0], starts])
        self.starts = starts[starts < len(tokens) - seq_len - 1]
        if len(self.starts) == 0:
            self.starts = np.array([0])
        self.tokens, self.seq_len, self.batch_size = tokens, seq_len, batch_size
        self.rng = np.random.default_rng(seed)

    def next(self) -> torch.Tensor:
        """A batch [batch_size, seq_len + 1] of token ids (int64)."""
        idx = self.rng.choice(self.starts, size=self.batch_size)
        rows = [self.tokens[i : i + self.seq_len + 1].astype(np.int64) for i in idx]
        return torch.from_numpy(np.stack(rows))


def _loss(model, batch: torch.Tensor, bf16: bool) -> torch.Tensor:
    """Mean next-token cross-entropy of ``batch`` [B, L+1] (moved to the model's device)."""
    device = next(model.parameters()).device
    batch = batch.to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())


@torch.no_grad()
def evaluate(model, val: np.ndarray, cfg: TrainConfig, eos_id: int, n_batches: int = 4) -> float:
    """Mean validation loss over ``n_batches`` fixed (seeded) batches."""
    model.eval()
    batches = Batches(val, eos_id, cfg.seq_len, cfg.batch_size, seed=12345)
    losses = [_loss(model, batches.next(), cfg.bf16).item() for _ in range(n_batches)]
    model.train()
    return float(np.mean(losses))


def train(
    model: torch.nn.Module,
    train_tokens: np.ndarray,
    val_tokens: np.ndarray,
    cfg: TrainConfig,
    eos_id: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Train ``model`` in place; returns a summary (steps, tokens, losses, minutes, stop reason)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model.to(cfg.device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95), eps=1e-8,
    )
    step_model = torch.compile(model) if cfg.compile else model
    batches = Batches(train_tokens, eos_id, cfg.seq_len, cfg.batch_size, cfg.seed)
    model.train()
    t0 = time.perf_counter()
    history: list[dict] = []
    stop = "max_steps"
    steps_done = 0
    loss_sum, loss_n = 0.0, 0
    for step in range(cfg.max_steps):
        time_fraction = (time.perf_counter() - t0) / 60 / cfg.max_minutes if cfg.max_minutes else 0.0
        if time_fraction >= 1.0:
            stop = "max_minutes"
            break
        lr = lr_at(step, cfg, time_fraction)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = _loss(step_model, batches.next(), cfg.bf16)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_sum += loss.item()
        loss_n += 1
        steps_done = step + 1
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.max_steps:
            elapsed = time.perf_counter() - t0
            row = {
                "step": step + 1,
                "train_loss": round(loss_sum / loss_n, 4),
                "val_loss": round(evaluate(model, val_tokens, cfg, eos_id), 4),
                "lr": round(lr, 6),
                "tokens": (step + 1) * cfg.batch_size * cfg.seq_len,
                "minutes": round(elapsed / 60, 2),
                "tokens_per_s": round((step + 1) * cfg.batch_size * cfg.seq_len / elapsed, 1),
            }
            history.append(row)
            log(json.dumps(row))
            loss_sum, loss_n = 0.0, 0
    elapsed = time.perf_counter() - t0
    return {
        "steps": steps_done,
        "stop": stop,
        "tokens_seen": steps_done * cfg.batch_size * cfg.seq_len,
        "minutes": round(elapsed / 60, 2),
        "final_val_loss": evaluate(model, val_tokens, cfg, eos_id) if len(val_tokens) > cfg.seq_len + 2 else None,
        "history": history,
        "config": asdict(cfg),
    }


def save_model(model, tokenizer, out_dir: str) -> None:
    """Save weights (safetensors via ``save_pretrained``), config, generation config, tokenizer."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id, do_sample=True, temperature=1.0, top_p=1.0,
    )
    model.to("cpu").save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
