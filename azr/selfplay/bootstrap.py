"""Seeding the buffers with base-model proposals before training (Absolute Zero, Sec. 3.3).

Starting from the zero triplet, the (untrained) policy proposes deduction and abduction
programs in rounds (no solving, no update) until each of their buffers holds
``seed_buffer_size`` entries, or ``max_seed_rounds`` rounds have passed (a weak model may
never get there; a log line says so). Induction proposals are seeded over the programs
gathered this way. Seed entries are tagged with step 0.
"""

from __future__ import annotations

import logging

from azr.config import Config
from azr.selfplay.buffer import Buffers
from azr.selfplay.propose import check_proposals, proposer_prompts
from azr.selfplay.seeds import derive_seed, rng_for
from azr.tasks.parsing import parse_proposal
from azr.tasks.types import TASK_TYPES

log = logging.getLogger(__name__)


def seed_buffers(cfg: Config, engine, env, buffers: Buffers) -> int:
    """Grow ``buffers`` with valid base-model proposals; return the rounds used."""
    sp, seed = cfg.selfplay, cfg.run.seed
    target = sp.seed_buffer_size
    for rnd in range(sp.max_seed_rounds):
        todo = [t for t in TASK_TYPES if len(buffers[t]) < target]
        if not todo:
            return rnd
        prompts = []
        for t in todo:
            prompts += proposer_prompts(buffers, t, sp.propose_batch, sp.n_references, sp.n_induction_inputs,
                                        rng_for(seed, -rnd - 1, f"seed-references/{t.value}"), sp.template_set)
        outs = engine.generate([p.prompt for p in prompts],
                               cfg.rollout.sampling_params(1, derive_seed(seed, -rnd - 1, "seed-propose")))
        parses = [parse_proposal(p.task_type, o[0].text, entry_rule=sp.entry_rule,
                                  answer_format=sp.answer_format) for p, o in zip(prompts, outs)]
        checked = check_proposals(env, prompts, parses, sp)
        for p, (task, _) in zip(prompts, checked):
            if task is not None and len(buffers[p.task_type]) < target:
                buffers[p.task_type].add(task, 0)
        log.info("seeding round %d: buffer sizes %s", rnd + 1, {t.value: len(buffers[t]) for t in TASK_TYPES})
    short = {t.value: len(buffers[t]) for t in TASK_TYPES if len(buffers[t]) < target}
    if short:
        log.warning("seeding stopped after %d rounds below seed_buffer_size=%d: %s", sp.max_seed_rounds, target, short)
    return sp.max_seed_rounds
