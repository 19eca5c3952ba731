"""The RL math and the update machinery: pure tensor functions with documented shapes.

Torch-free at import: import the submodules you need explicitly.

- ``azr.rl.config``: ``AdvantageConfig``, ``LossConfig``, ``OptimConfig``,
  ``CheckpointConfig`` (frozen, torch-free).
- ``azr.rl.logprobs``: chunked per-token log-probs and entropy from hidden states and the
  LM head (custom autograd; never materialises fp32 logits for the whole batch), and
  ``policy_logprobs(model, ...)`` for a Hugging Face causal LM.
- ``azr.rl.advantages``: ``ADVANTAGE_ESTIMATORS`` (``trr++``, ``reinforce++``,
  ``reinforce++-baseline``, ``grpo``, ``rloo``).
- ``azr.rl.losses``: ``POLICY_LOSSES`` (``ppo_clip``, ``clip_cov``, ``kl_cov``), ``aggregate``,
  ``kl_penalty``, ``total_loss``.
- ``azr.rl.update``: ``PolicyBatch``, ``make_policy_batch``, ``update_step``,
  ``build_optimizer``, ``build_scheduler``.
- ``azr.rl.checkpoint``: ``save_checkpoint``, ``load_checkpoint``, ``latest_checkpoint``,
  ``list_checkpoints`` (HF folders + trainer state, atomic, history policy).
"""
