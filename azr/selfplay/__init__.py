"""Absolute Zero self-play: buffers, rewards, the propose -> validate -> solve step, the loop.

Torch-free at import: import the submodules you need explicitly.

- ``azr.selfplay.config``: ``SelfPlayConfig``, ``RewardConfig``, ``RunConfig`` (torch-free).
- ``azr.selfplay.rewards``: ``PROPOSER_REWARDS`` (learnability, eq3, target_rate), the solver
  reward and the format-aware wrapper (torch-free).
- ``azr.selfplay.buffer``: ``TaskBuffer``, ``Buffers`` (step-tagged, de-duplicated, capped,
  JSONL).
- ``azr.selfplay.env``: ``CodeEnv``, validation and verification in the sandbox.
- ``azr.selfplay.step``: ``collect`` (one step's experience); ``azr.selfplay.update``:
  ``policy_update`` (one update over the 6 groups).
- ``azr.selfplay.trainer``: ``train`` (the loop, checkpoints, resume); ``azr.selfplay.cli``:
  ``azr train``.
- ``azr.selfplay.stats`` / ``metrics`` / ``progress``: per-step metrics, sinks, progress line.
- ``azr.selfplay.validation``: periodic validation (CRUXEval-O/-I or generator-made sets);
  ``azr.selfplay.seeding``: seed buffers from base-model proposals.
"""
