"""PPO mini-batches: which rows each optimizer step of a training step uses.

The reference implementation (verl's ``DataParallelPPOActor.update_policy``, branch
``paper``) splits the concatenated batch, in order and without shuffling, into chunks of
``ppo_mini_batch_size`` sequences and takes one optimizer step per chunk, ``ppo_epochs``
times; the old log-probs are computed once, before the first chunk, so from the second
chunk on the policy has moved and the PPO ratio clip can act. With its scripts' 128
sequences per chunk over 6 x 64 = 384 sequences that is 3 optimizer steps per training step.
"""

from __future__ import annotations


def mini_batch_rows(n_rows: int, size: int, epochs: int = 1) -> list[list[int]]:
    """Row indices of each optimizer step, in order: ``epochs`` passes over ``0..n_rows-1``,
    each cut into consecutive chunks of ``size`` rows (the last chunk may be smaller).
    ``size == 0`` (or ``size >= n_rows``) gives one chunk of all rows per epoch."""
    if n_rows < 0 or size < 0 or epochs < 1:
        raise ValueError(f"need n_rows >= 0, size >= 0, epochs >= 1; got {n_rows}, {size}, {epochs}")
    if n_rows == 0:
        return []
    step = size if 0 < size < n_rows else n_rows
    chunks = [list(range(i, min(i + step, n_rows))) for i in range(0, n_rows, step)]
    return [c for _ in range(epochs) for c in chunks]
