"""Pretraining of ``azr-tiny``, the project's bundled tiny base model.

Pipeline (each step a small module, driven by ``azr pretrain``):

1. ``corpus``     generator programs -> executed in the sandbox -> episodes in the six
                  (task, role) prompt/answer formats, plus standard-library source;
2. ``decontam``   drop every corpus document sharing a word 13-gram with the benchmarks;
3. ``tokenizer``  train a byte-level BPE tokenizer on the corpus;
4. ``train``      pretrain a small Qwen2 decoder, step-budgeted (deterministic) with a
                  wall-clock cap;
5. ``measure``    sample at temperature 1.0 and score format / validity / accuracy per
                  (task, role) in the sandbox.

Nothing here runs at import time; torch is imported only by ``train`` and ``measure``.
"""
