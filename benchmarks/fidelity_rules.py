"""Valid-proposal rates of a model under the reference rules and azr's earlier (lenient) rules.

The same completions are checked twice: the entry rule of deduction/abduction proposals
(``selfplay.entry_rule``: one top-level def renamed to ``f`` vs any number of defs) and the
induction rule (``selfplay.induction_rule``: at least N inputs, the last N, all must pass vs
failing inputs dropped), with the prompt set the model was trained on. Prompts: deduction and
abduction proposers see the zero triplet and one generator program; the induction proposer
sees one generator program. Reported in docs/fidelity.md for the shipped azr-tiny:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fidelity_rules.py --model models/azr-tiny
"""

from __future__ import annotations

import argparse
import json
import random
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/azr-tiny")
    ap.add_argument("--n", type=int, default=48, help="proposals per task type")
    ap.add_argument("--n-inputs", type=int, default=4, help="N: induction inputs (the tiny preset: 4)")
    ap.add_argument("--template-set", default="tiny", choices=("reference", "tiny"))
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import torch

    from azr.executor import ExecutorConfig, Sandbox
    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_policy
    from azr.rollout.types import SamplingParams
    from azr.selfplay.env import CodeEnv
    from azr.tasks.generator import generate_programs
    from azr.tasks.parsing import parse_proposal
    from azr.tasks.prompts import proposer_prompt
    from azr.tasks.types import ZERO_TRIPLET, TaskType, Triplet

    torch.set_num_threads(1)
    model, tok = load_policy(ModelConfig(path=args.model, device="cpu"))
    engine = HFEngine(model, tok, RolloutConfig())
    refs = [Triplet(p.program, p.inputs[0], "") for p in generate_programs(40, seed=4242, n_inputs=1)]
    rng = random.Random(0)
    rates: dict[str, float] = {}
    start = time.time()
    with Sandbox(ExecutorConfig(timeout_s=2.0)) as sb:
        env = CodeEnv(sb)
        for tt in TaskType:
            induction = tt is TaskType.INDUCTION
            shown = [[rng.choice(refs)] if induction else [ZERO_TRIPLET, rng.choice(refs)] for _ in range(args.n)]
            prompts = [proposer_prompt(tt, s, n_inputs=args.n_inputs, template_set=args.template_set) for s in shown]
            params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=args.max_new_tokens, n=1, seed=args.seed)
            texts = [o[0].text for o in engine.generate(prompts, params)]
            for entry in ("reference", "lenient"):
                for rule in (("reference", "lenient") if induction else ("reference",)):
                    items = [(tt, parse_proposal(tt, x, entry_rule=entry), s[0].program if induction else None)
                             for x, s in zip(texts, shown)]
                    checked = env.validate_proposals(items, n_inputs=args.n_inputs, min_pairs=2, induction_rule=rule)
                    key = f"{tt.value}/entry_rule={entry}" + (f"/induction_rule={rule}" if induction else "")
                    rates[key] = sum(t is not None for t, _ in checked) / args.n
    print(json.dumps({"valid_rate": rates, "args": vars(args), "seconds": round(time.time() - start)}, indent=1))


if __name__ == "__main__":
    main()
