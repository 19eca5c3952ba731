"""Seeds of a step's random choices: pure functions of (run seed, step, phase tag)."""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, step: int, tag: str) -> int:
    """A 63-bit seed that is a pure function of (run seed, step, phase tag).

    Every random choice of a step draws from such a seed, so a run resumed at step t makes
    exactly the choices an uninterrupted run makes (no RNG state to carry).
    """
    digest = hashlib.sha256(f"{seed}:{step}:{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def rng_for(seed: int, step: int, tag: str) -> random.Random:
    """A ``random.Random`` seeded with ``derive_seed(seed, step, tag)``."""
    return random.Random(derive_seed(seed, step, tag))
