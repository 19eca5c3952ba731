"""Policy models and sampling engines.

Torch-free at import: import the submodules you need explicitly.

- ``azr.rollout.config``: ``ModelConfig``, ``RolloutConfig`` (frozen, torch-free).
- ``azr.rollout.types``: ``SamplingParams``, ``Completion``, the ``RolloutEngine`` protocol
  (torch-free).
- ``azr.rollout.models``: ``load_model``, ``load_tokenizer``, ``resolve_device``.
- ``azr.rollout.tiny``: ``train_tokenizer``, ``build_tiny_model`` (tests, demos; no downloads).
- ``azr.rollout.hf``: ``HFEngine``, batched sampling with Hugging Face ``generate``.
"""
