"""azr: Absolute Zero self-play for language-model reasoning, and the tools to analyse it.

Importing ``azr`` is cheap and side-effect free: torch is only imported by the
subpackages that need it (``azr.rollout``, ``azr.rl``, ``azr.selfplay``, ...).
"""

__version__ = "0.1.0"
