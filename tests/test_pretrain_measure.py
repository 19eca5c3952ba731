"""Measurement of a base model on the six (task, role) groups (random tiny model: runs, keys, ranges)."""

from __future__ import annotations

import pytest

from azr.executor import ExecutorConfig, Sandbox
from azr.pretrain.measure import MeasureConfig, answer_logprobs, fresh_tasks, measure

GROUP_KEYS = [
    "fresh/solve/deduction/accuracy", "fresh/solve/abduction/accuracy", "fresh/solve/induction/accuracy",
    "fresh/propose/deduction/valid_rate", "fresh/propose/abduction/valid_rate", "fresh/propose/induction/valid_rate",
    "fresh/propose/deduction/novel_rate", "selfplay/propose/deduction/format_rate",
    "selfplay/propose/induction/valid_rate", "fresh/solve/induction/format_rate",
]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(ExecutorConfig(workers=2)) as sb:
        yield sb


def test_fresh_tasks_are_executed(sandbox):
    triplets, inductions, solutions = fresh_tasks(sandbox, MeasureConfig(n_per_group=4, induction_n_inputs=4))
    assert len(triplets) >= 6 and len(triplets) == len(inductions) == len(solutions)
    assert all(s.startswith("def f(") for s in solutions)
    assert all(len(t.pairs) == 4 for t in inductions)
    assert all(t.output == i.pairs[0][1] for t, i in zip(triplets, inductions))


def test_measure_random_model(sandbox, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from azr.rollout.models import load_tokenizer
    from azr.rollout.tiny import build_tiny_model, train_tokenizer

    tok = train_tokenizer(vocab_size=400, max_bytes=100_000)
    path = build_tiny_model(tmp_path / "m", tok, hidden_size=32, num_layers=1, intermediate_size=64)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    cfg = MeasureConfig(n_per_group=2, k_references=2, induction_n_inputs=3, max_new_tokens=24, batch_size=24)
    metrics, examples = measure(model, load_tokenizer(str(path)), sandbox, cfg)
    for key in GROUP_KEYS:
        assert key in metrics and 0.0 <= metrics[key] <= 1.0, key
    assert metrics["fresh/solve/deduction/accuracy"] <= metrics["fresh/solve/deduction/format_rate"]
    assert metrics["n_per_group"] == 2
    assert set(examples) == {f"{s}/{k}" for s, k in [
        *(("fresh", g) for g in ("solve/deduction", "solve/abduction", "solve/induction",
                                 "propose/deduction", "propose/abduction", "propose/induction")),
        *(("selfplay", g) for g in ("propose/deduction", "propose/abduction", "propose/induction"))]}
    assert metrics["fresh/solve/deduction/response_tokens_mean"] <= 24
    for task in ("deduction", "abduction", "induction"):  # teacher-forced reference scores
        assert metrics[f"fresh/solve/{task}/ref_nll"] > 0
        assert 0.0 <= metrics[f"fresh/solve/{task}/ref_prob"] <= 1.0


def test_answer_logprobs_batched_equal_one_by_one(tmp_path):
    """Equivalence: right-padded batches score each answer as an unpadded single row does."""
    import torch
    from transformers import AutoModelForCausalLM

    from azr.rollout.models import load_tokenizer
    from azr.rollout.tiny import build_tiny_model, train_tokenizer

    tok = train_tokenizer(vocab_size=400, max_bytes=100_000)
    path = build_tiny_model(tmp_path / "m", tok, hidden_size=32, num_layers=2, intermediate_size=64)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    tokenizer = load_tokenizer(str(path))
    contexts = ["def f(x):\n    return x\n", "A much longer context " * 6, "f(1) == 2\n"]
    answers = ["<answer>1</answer>", "<answer>\n```python\ndef f(n):\n    return n + 1\n```\n</answer>", "x"]
    batched = answer_logprobs(model, tokenizer, contexts, answers, batch_size=3)
    for (lp, n), c, a in zip(batched, contexts, answers):
        ctx = tokenizer(c, add_special_tokens=False)["input_ids"]
        ans = tokenizer(a, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([ctx + ans])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
        want = sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(ans))
        assert n == len(ans) and abs(lp - want) < 1e-3 * max(1.0, abs(want))
