"""Tiny random-initialised causal LMs and locally trained tokenizers (no downloads).

For tests and CPU demos: ``train_tokenizer`` fits a byte-level BPE on a slice of the Python
standard library plus a few snippets in the answer format in a few seconds;
``build_tiny_model`` writes a Qwen2-architecture model with random weights and that tokenizer
to a folder loadable with ``AutoModelForCausalLM.from_pretrained`` /
``azr.rollout.models.load_tokenizer``.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Iterable, Iterator

EOS_TOKEN = "<|endoftext|>"
SPECIAL_TOKENS = (EOS_TOKEN, "<|im_start|>", "<|im_end|>")
# One user turn, then the assistant's turn; mirrors the Qwen chat format.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_SNIPPETS = (
    "<think>The function adds one to its argument.</think><answer>4</answer>",
    "```python\ndef f(a):\n    return a\n```\n```input\n'Hello world'\n```",
    "def f(x, y):\n    return [i * y for i in x if i % 2 == 0]\n",
    "<think>Let me trace the loop.</think>\n<answer>f([1, 2, 3], 2)</answer>",
    "def f(s):\n    return ''.join(reversed(s)).upper()\n",
)


def stdlib_corpus(max_bytes: int = 1_500_000) -> Iterator[str]:
    """Source files of the Python standard library (sorted, deterministic) up to ``max_bytes``."""
    root = Path(sysconfig.get_paths()["stdlib"])
    total = 0
    for path in sorted(root.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        yield text
        total += len(text)
        if total >= max_bytes:
            return


def train_tokenizer(
    out_dir: str | Path | None = None,
    *,
    vocab_size: int = 2048,
    corpus: Iterable[str] | None = None,
    max_bytes: int = 1_500_000,
):
    """Train a byte-level BPE tokenizer; return it as a ``PreTrainedTokenizerFast``.

    Args:
        out_dir: where to ``save_pretrained`` it (skipped when None).
        vocab_size: total vocabulary size including the special tokens and the 256 bytes.
        corpus: texts to train on; default: ``stdlib_corpus(max_bytes)`` plus answer-format snippets.
    The tokenizer has EOS = pad = ``<|endoftext|>``, left padding, and a Qwen-style chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(corpus) if corpus is not None else [*stdlib_corpus(max_bytes), *(_SNIPPETS * 50)]
    if not texts:
        raise ValueError("empty tokenizer corpus")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=EOS_TOKEN, padding_side="left"
    )
    fast.chat_template = CHAT_TEMPLATE
    if out_dir is not None:
        fast.save_pretrained(str(out_dir))
    return fast


def build_tiny_model(
    out_dir: str | Path,
    tokenizer=None,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    tie_word_embeddings: bool = True,
    seed: int = 0,
    vocab_size: int = 2048,
) -> Path:
    """Write a random-initialised Qwen2 causal LM (+ tokenizer) to ``out_dir``; return the path.

    ``tokenizer``: an existing tokenizer to save alongside (default: ``train_tokenizer(vocab_size=...)``).
    The weights depend only on ``seed`` and the sizes.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer is None:
        tokenizer = train_tokenizer(vocab_size=vocab_size)
    eos = tokenizer.eos_token_id
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, bos_token_id=eos
    )
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out
