"""``azr study``: a toy-scale replication of "Towards Understanding Self-play for LLM Reasoning".

- ``config``: the arms and the study's settings (one frozen dataclass);
- ``runner``: trains each arm (``azr train`` / ``azr rlvr`` / ``azr sft`` as subprocesses, one
  run directory per arm, resumable), evaluates base and arms (``azr eval`` on the generator
  benchmarks), runs the analyses (``azr analyze sparsity|difficulty``) and reads the metrics;
- ``stats``: intervals (Wilson, paired bootstrap) and the per-arm summaries of run metrics;
- ``report``: the report page (markdown; the HTML report of ``azr report`` beside it).

Layer 7 (beside ``analysis`` and ``cli``): it only calls the commands and readers below it.
"""
