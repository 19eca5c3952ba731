"""The self-play core: the step, its controls, the update over rollouts and the run loop.

Torch-free at import: import the submodules you need explicitly.

- ``azr.selfplay.config``: ``SelfPlayConfig``, ``RewardConfig``, ``RunConfig``,
  ``ControlsConfig`` (torch-free).
- ``azr.selfplay.rewards``: ``PROPOSER_REWARDS`` (learnability, eq3, target_rate), the solver
  reward and the format-aware wrapper (torch-free).
- ``azr.selfplay.buffer``: ``TaskBuffer``, ``Buffers`` (step-tagged, de-duplicated, capped,
  JSONL); ``azr.selfplay.bootstrap``: grow them with base-model proposals before training.
- ``azr.selfplay.env``: ``CodeEnv``, sandbox validation of proposals and verification of answers.
- ``azr.selfplay.propose`` / ``solve``: prompts, parsing and grading of each role.
- ``azr.selfplay.step``: ``collect`` (one step's experience: ``Rollout`` records,
  ``azr.selfplay.rollouts``; seeds from ``azr.selfplay.seeds``).
- ``azr.selfplay.controls``: exploration controls (proposer temperature, exploration mixing,
  near-duplicate penalty, ``azr.selfplay.diversity``); ``azr.selfplay.offpolicy``: truncated
  importance weights of off-policy rows.
- ``azr.selfplay.update``: ``policy_update`` (rollouts -> the RL core's one update step, one
  process or data-parallel).
- ``azr.selfplay.loop``: ``run_loop`` / ``Session`` / ``open_session``, the run loop every
  trainer shares; ``azr.selfplay.trainer``: the self-play program and ``train``;
  ``azr.selfplay.cli``: ``azr train``.
- ``azr.selfplay.metrics`` / ``progress``: per-step metrics, the progress line (the metrics
  file itself is written by ``azr.rl.rundir``).
- ``azr.selfplay.validation``: held-out accuracy (CRUXEval-O/-I or generator-made sets).
"""
