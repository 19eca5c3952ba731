"""Evaluation: benchmark loaders, sampling, sandboxed scoring, unbiased pass@k.

Torch-free at import; submodules: ``data`` (data directory, sha256, download),
``benchmarks`` (loaders), ``code_scoring`` / ``math_scoring`` (scorers), ``passk``
(estimator, bootstrap, paired test), ``results`` (files and table), ``runner``
(sample + score + write), ``compare``, ``cli``.
"""
