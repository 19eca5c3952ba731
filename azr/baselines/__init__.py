"""Baselines and remedies: RLVR and SFT trainers over fixed triplet datasets, and the
exploration controls (proposer diversity penalty, off-policy exploration mixing).

Submodules are imported where they are used (``azr.baselines.dataset`` and
``azr.baselines.diversity`` are torch-free; the trainers and ``offpolicy`` need torch).
"""
