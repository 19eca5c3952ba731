"""Analysis toolkit: the measurements of "Towards Understanding Self-play for LLM Reasoning".

Modules (each small, most torch-free):

- ``rundir``      read a run directory (config, metrics, checkpoints, buffers);
- ``safetensors_io`` stream tensors of an HF checkpoint as raw bytes, chunk by chunk;
- ``sparsity``    update sparsity between two checkpoints, per tensor/module/layer/total;
- ``entropy``     policy-entropy curves from metrics, and offline token entropy of a model;
- ``difficulty``  RQ2: solve rate and response length by the step that proposed a question;
- ``passk``       pass@k curves from ``azr eval`` summaries, base vs trained;
- ``plots``       matplotlib figures (Agg backend), one function per figure;
- ``report``      the self-contained HTML report;
- ``synthetic``   writers of synthetic run directories and checkpoints (tests, benchmarks);
- ``cli``         ``azr analyze ...`` and ``azr report``.

Nothing here runs at import time.
"""
