"""Baselines: RLVR and SFT trainers over fixed triplet datasets (and their data).

They reuse the self-play core (``azr.selfplay``: solver grading, rewards, exploration
controls, off-policy importance weights, the update) and add only their data and their
step. Submodules are imported where they are used (``azr.baselines.dataset`` is torch-free;
the trainers need torch).
"""
