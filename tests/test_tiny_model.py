"""The shipped azr-tiny model: loadable, small, and it writes well-formed answers for every role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr.tasks import parsing, prompts
from azr.tasks.parsing import parse_solution
from azr.tasks.types import ZERO_TRIPLET, InductionTask, TaskType, Triplet

# azr-tiny's own prompt set and entry rule (the tiny preset's selfplay.template_set / entry_rule)
def proposer_prompt(*a, **k):
    return prompts.proposer_prompt(*a, template_set="tiny", **k)


def solver_prompt(*a, **k):
    return prompts.solver_prompt(*a, template_set="tiny", **k)


def parse_proposal(*a, **k):
    return parsing.parse_proposal(*a, entry_rule="lenient", **k)


MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "azr-tiny"
pytestmark = pytest.mark.skipif(not (MODEL_DIR / "model.safetensors").exists(), reason="models/azr-tiny not built yet")

PROGRAM = "def f(nums):\n    return [x * 2 for x in nums if x % 2 == 1]"
TRIPLET = Triplet(PROGRAM, "[1, 2, 3]", "[2, 6]")
REFS = [TRIPLET, Triplet("def f(s):\n    return s[::-1].upper()", "'abc'", "'CBA'"), ZERO_TRIPLET]
INDUCTION = InductionTask(PROGRAM, (("[1, 2, 3]", "[2, 6]"), ("[5]", "[10]"), ("[]", "[]"), ("[4, 7]", "[14]")),
                          "f: keep odd values; then double them.")


@pytest.fixture(scope="module")
def model_and_tokenizer():
    import torch
    from transformers import AutoModelForCausalLM

    from azr.rollout.models import load_tokenizer

    model = AutoModelForCausalLM.from_pretrained(str(MODEL_DIR), dtype=torch.float32)
    return model.eval(), load_tokenizer(str(MODEL_DIR))


def test_files_size_and_card():
    total = sum(p.stat().st_size for p in MODEL_DIR.iterdir() if p.is_file())
    assert total < 50 * 2**20
    config = json.loads((MODEL_DIR / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["max_position_embeddings"] >= 2048
    card = (MODEL_DIR / "README.md").read_text()
    for needle in ("Architecture", "Corpus", "Decontamination", "Training", "valid"):
        assert needle in card


def test_generates_well_formed_output_for_every_role(model_and_tokenizer):
    import torch

    from azr.pretrain.measure import MeasureConfig, sample

    model, tokenizer = model_and_tokenizer
    assert tokenizer.padding_side == "left"
    D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
    groups = [
        ("propose", D, proposer_prompt(D, REFS)),
        ("propose", A, proposer_prompt(A, REFS)),
        ("propose", I, proposer_prompt(I, [TRIPLET], n_inputs=4)),
        ("solve", D, solver_prompt(D, TRIPLET)),
        ("solve", A, solver_prompt(A, TRIPLET)),
        ("solve", I, solver_prompt(I, INDUCTION)),
    ]
    n = 8
    prompts = [p for _, _, p in groups for _ in range(n)]
    texts = sample(model, tokenizer, prompts, MeasureConfig(max_new_tokens=160, batch_size=24), seed=0)
    assert torch.get_num_threads() >= 1
    for g, (role, task, _) in enumerate(groups):
        outs = texts[g * n : (g + 1) * n]
        parse = parse_proposal if role == "propose" else parse_solution
        ok = [parse(task, t).ok for t in outs]
        assert any(ok), f"{role}/{task}: no well-formed completion in {n} samples: {outs[:2]!r}"
