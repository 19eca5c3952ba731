"""Model-running analyses on a tiny random Qwen2: offline entropy and difficulty sampling."""

from __future__ import annotations

import argparse
import json
import math

import pytest

torch = pytest.importorskip("torch")

from azr.analysis import cli  # noqa: E402
from azr.analysis.difficulty import Question, aggregate, solve_questions  # noqa: E402
from azr.analysis.entropy import PromptItem, measure_checkpoint_entropy, response_entropies  # noqa: E402
from azr.analysis.synthetic import write_run  # noqa: E402
from azr.rollout.types import Completion, SamplingParams  # noqa: E402
from azr.tasks.prompts import render_solution  # noqa: E402

CORPUS = ["def f(a):\n    return a + 1\n", "<think>x</think><answer>```output\n3\n```</answer>",
          "Predict the output of this Python function for the given input."] * 30


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from azr.rollout.tiny import build_tiny_model, train_tokenizer

    tok = train_tokenizer(vocab_size=400, corpus=CORPUS)
    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny", tok, hidden_size=32, num_layers=1,
                            num_heads=2, num_kv_heads=1, intermediate_size=64, seed=0)


def test_response_entropies_match_full_softmax(tiny):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny).eval()
    seqs = [([5, 6, 7], [8, 9]), ([10], [11, 12, 13, 14]), ([3, 4], [2])]
    got = response_entropies(model, seqs, pad_id=0, temperature=0.7, batch_size=2, chunk_tokens=3)
    for (p, r), h in zip(seqs, got):
        ids = torch.tensor([p + r])
        with torch.no_grad():
            logits = model(ids).logits[0].float() / 0.7
        logp = torch.log_softmax(logits, -1)
        ent = -(logp.exp() * logp).sum(-1)  # [T]: entropy of the distribution predicting t+1
        want = ent[len(p) - 1:len(p) + len(r) - 1].mean().item()
        assert h == pytest.approx(want, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_measure_checkpoint_entropy_end_to_end(tiny, tmp_path):
    prompts = [PromptItem("def f(a):", "solve/deduction"), PromptItem("Predict the output", "propose/abduction")]
    res = measure_checkpoint_entropy(tiny, prompts, samples=2, max_new_tokens=6, batch_size=4, device="cpu")
    vocab = json.loads((tiny / "config.json").read_text())["vocab_size"]
    assert res["responses"] == 4 and 0 < res["tokens"] <= 24
    assert 0 < res["overall"] <= math.log(vocab) + 1e-6
    assert set(res["by_group"]) == {"solve/deduction", "propose/abduction"}
    again = measure_checkpoint_entropy(tiny, prompts, samples=2, max_new_tokens=6, batch_size=4, device="cpu")
    assert again["overall"] == pytest.approx(res["overall"])  # seeded sampling: reproducible
    (tmp_path / "p.json").write_text(json.dumps(["def f(a):"]))
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["analyze", "entropy", "--checkpoint", str(tiny), "--prompts", str(tmp_path / "p.json"),
                              "--samples", "1", "--max-new-tokens", "4", "--device", "cpu", "--json"])
    assert args.func(args) == 0


class ScriptedEngine:
    """A RolloutEngine whose completions are fixed texts (answer i for sample i of each prompt)."""

    def __init__(self, answers_per_prompt: list[list[str]]):
        self.answers = answers_per_prompt
        self.calls: list[tuple[list[str], SamplingParams]] = []

    def generate(self, prompts, params):
        self.calls.append((list(prompts), params))
        return [[Completion(tuple(range(len(t) // 4 + 1)), t, (0.0,) * (len(t) // 4 + 1), "stop")
                 for t in self.answers[i][:params.n]] for i in range(len(prompts))]


def test_solve_questions_parses_and_verifies():
    qs = [Question(0, 1, "a", "def f(a):\n    return a + 1", "1", "2"),
          Question(25, 30, "b", "def f(a):\n    return [a] * 2", "'x'", "['x', 'x']")]
    good0, bad0 = render_solution("deduction", "2"), render_solution("deduction", "3")
    good1 = render_solution("deduction", '["x", "x"]')  # equal by value, not by text
    engine = ScriptedEngine([[good0, bad0, "no answer block"], [good1, good1, good1]])
    att = solve_questions(engine, qs, "m", samples=3, max_new_tokens=64, seed=3)
    prompts, params = engine.calls[0]
    assert params.n == 3 and params.temperature == 1.0 and params.seed == 3
    assert "return a + 1" in prompts[0] and "'x'" in prompts[1]
    assert sorted(a.correct for a in att if a.question == 0) == [False, False, True]
    assert sum(not a.parsed for a in att) == 1
    stats = {s.bucket: s for s in aggregate(qs, att)}
    assert stats[0].solve_rate == pytest.approx(1 / 3) and stats[25].solve_rate == 1.0


@pytest.mark.slow
def test_difficulty_cli_with_real_models(tiny, tmp_path, capsys):
    run = write_run(tmp_path, "r", steps=10, checkpoint_every=5)
    out = tmp_path / "d.json"
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["analyze", "difficulty", str(run), "--models", str(tiny), str(tiny),
                              "--labels", "trained", "base", "--per-bucket", "2", "--every", "5",
                              "--samples", "2", "--max-new-tokens", "8", "--device", "cpu", "--output", str(out)])
    assert args.func(args) == 0
    d = json.loads(out.read_text())
    assert {s["model"] for s in d["stats"]} == {"trained", "base"}
    assert d["questions_per_bucket"] == {"0": 2, "5": 2, "10": 2}
    assert all(s["responses"] == 2 * s["questions"] and s["response_length"] > 0 for s in d["stats"])


def test_solve_questions_prompts_with_the_runs_template_set():
    """The difficulty protocol asks the question the way the run's solver saw it."""
    from azr.tasks.prompts import solver_prompt
    from azr.tasks.types import TaskType, Triplet

    q = Question(0, 1, "a", "def f(a):\n    return a + 1", "1", "2")
    engine = ScriptedEngine([[render_solution("deduction", "2")]])
    solve_questions(engine, [q], "m", samples=1, template_set="tiny", answer_format="lenient")
    tiny_prompt = solver_prompt(TaskType.DEDUCTION, Triplet(q.program, q.input, q.output), template_set="tiny")
    assert engine.calls[0][0] == [tiny_prompt]
