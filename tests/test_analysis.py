"""Run-directory readers, pass@k curves, entropy curves and difficulty aggregation."""

from __future__ import annotations

import argparse
import json

import pytest

from azr.analysis import cli
from azr.analysis.difficulty import Attempt, Question, aggregate, bucket_of, draw_questions, questions_from_run
from azr.analysis.entropy import ENTROPY_KEYS, entropy_curves, load_prompts
from azr.analysis.passk import EvalResultError, compare, load_curves
from azr.analysis.rundir import (
    RunError,
    check_run_dir,
    frozen_proposer,
    list_checkpoints,
    load_buffer_entries,
    load_metrics,
    proposer_reward,
    run_label,
    series,
)
from azr.analysis.synthetic import write_run


def _cli(argv):
    parser = argparse.ArgumentParser(prog="azr")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("r"), "std", steps=30, checkpoint_every=10, proposer_reward="eq3")


# --- run directory ----------------------------------------------------------------------------

def test_run_reading(run):
    rows = load_metrics(run)
    assert len(rows) == 30 and rows[0]["step"] == 1
    for key in ("solve/induction/accuracy", "propose/abduction/valid_rate", "entropy/propose/deduction",
                "solve/deduction/response_length_mean", "advantage/solve/induction/std", "buffer/deduction/size"):
        assert key in rows[-1]
    assert [c.step for c in list_checkpoints(run)] == [0, 10, 20, 30]
    entries = load_buffer_entries(run, "deduction")
    assert entries[0]["step"] == -1 and len({e["hash"] for e in entries}) == len(entries)
    assert max(e["step"] for e in entries) == 30
    assert load_buffer_entries(run, "induction")[-1]["inputs"]
    assert proposer_reward({"reward": {"proposer": "eq3"}}) == "eq3"
    assert frozen_proposer({"selfplay": {"train_propose": False}})
    assert not frozen_proposer({"selfplay": {"train_propose": True}})
    assert run_label(run) == "std (reward=eq3)"
    assert run_label(run, {"baseline": "rlvr", "reward": {"proposer": "learnability"}}) == "std (rlvr)"
    with pytest.raises(ValueError):
        load_buffer_entries(run, "nonsense")


def test_metrics_tolerate_live_runs_and_reject_corruption(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "a": 1.0}\n{"step": 2, "a": NaN}\n{"step": 2, "a": 3}\n{"st')
    rows = load_metrics(tmp_path)
    assert series(rows, "a") == ([1, 2], [1.0, 3.0])  # NaN skipped, repeated step keeps the last value
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\ngarbage\n{"step": 3}\n')
    with pytest.raises(RunError, match=":2:"):
        load_metrics(tmp_path)
    with pytest.raises(RunError, match="not a run directory"):
        check_run_dir(tmp_path / "..")
    with pytest.raises(RunError, match="no such"):
        check_run_dir(tmp_path / "nope")


def test_checkpoint_folder_without_weights_is_skipped(run, tmp_path):
    (tmp_path / "checkpoints" / "step_000005").mkdir(parents=True)
    (tmp_path / "checkpoints" / ".tmp-step_000006-1").mkdir()
    assert list_checkpoints(tmp_path) == []


# --- sparsity over a run ----------------------------------------------------------------------

def test_sparsity_cli_run_modes(run, capsys):
    assert _cli(["analyze", "sparsity", str(run), "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)["pairs"]
    # write_run: each 10-step interval changes 200 + 100 + 100 elements (checkpoint_changes(400))
    assert [p["total"]["changed"] for p in pairs] == [400, 400, 400]
    assert pairs[0]["by_module"]["mlp"]["changed"] == 200
    assert _cli(["analyze", "sparsity", str(run), "--mode", "first", "--json"]) == 0
    firsts = json.loads(capsys.readouterr().out)["pairs"]
    assert len(firsts) == 3 and all(p["a"].endswith("step_000000") for p in firsts)
    base = str(run / "checkpoints" / "step_000000")
    assert _cli(["analyze", "sparsity", str(run), "--base", base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"][0]["total"]["changed"] == 0
    a, b = run / "checkpoints" / "step_000010", run / "checkpoints" / "step_000020"
    assert _cli(["analyze", "sparsity", str(a), str(b), "--atol", "1e-5"]) == 0
    out = capsys.readouterr().out
    assert "TOTAL" in out and "attention" in out
    assert _cli(["analyze", "sparsity", str(a), str(run / "nope")]) == 2
    assert "no such" in capsys.readouterr().err


# --- pass@k ------------------------------------------------------------------------------------

def _summary(path, pass_at, per_problem, model="m"):
    path.mkdir(parents=True, exist_ok=True)
    (path / "summary.json").write_text(json.dumps({
        "benchmark": "mbppplus", "n": 4, "pass@k": pass_at, "ci": {k: [v - 0.1, v + 0.1] for k, v in pass_at.items()},
        "model": model, "per_problem": [{"task_id": t, "n": 4, "c": c} for t, c in per_problem.items()]}))
    return path


def test_passk_curves_and_paired_comparison(tmp_path, capsys):
    base = _summary(tmp_path / "base", {"1": 0.25, "2": 0.4, "4": 0.5}, {"a": 0, "b": 2, "c": 2, "d": 0},
                    "runs/x/checkpoints/step_000000")
    trained = _summary(tmp_path / "trained", {"1": 0.5, "2": 0.6, "4": 0.75}, {"a": 2, "b": 4, "c": 2, "d": 0})
    curves = load_curves([base, trained])
    assert curves[0].label == "x/step_000000" and curves[1].label == "m"
    assert curves[0].ks == (1, 2, 4) and curves[0].ci[0] == (0.15, 0.35)
    rows = compare(curves[0], curves[1])
    assert [r["k"] for r in rows] == [1, 2, 4]
    assert rows[0]["base"] == pytest.approx(0.25) and rows[0]["other"] == pytest.approx(0.5)
    assert rows[0]["wins"] == 2 and rows[0]["ties"] == 2
    assert _cli(["analyze", "passk", str(base), str(trained), "--labels", "base", "trained"]) == 0
    assert "trained vs base, k=1" in capsys.readouterr().out
    with pytest.raises(EvalResultError):
        load_curves([tmp_path / "nothing"])
    (tmp_path / "bad.json").write_text('{"benchmark": "x"}')
    with pytest.raises(EvalResultError, match="not an `azr eval` summary"):
        load_curves([tmp_path / "bad.json"])


# --- entropy curves ---------------------------------------------------------------------------

def test_entropy_curves_from_metrics(run, tmp_path, capsys):
    curves = entropy_curves(run)
    assert set(curves) == set(ENTROPY_KEYS)
    steps, vals = curves["entropy/overall"]
    assert steps == list(range(1, 31)) and vals[-1] < vals[0]
    assert _cli(["analyze", "entropy", str(run), "--plot", str(tmp_path / "e.png")]) == 0
    assert "entropy/solve/induction" in capsys.readouterr().out
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    assert _cli(["analyze", "entropy"]) == 2


def test_prompt_loading(run, tmp_path):
    items = load_prompts(run)  # newest samples file of the run
    assert items[0].group == "solve/deduction"
    (tmp_path / "p.json").write_text(json.dumps(["a", "b", "a"]))
    assert [i.prompt for i in load_prompts(tmp_path / "p.json")] == ["a", "b"]
    (tmp_path / "p.jsonl").write_text('{"text": 1}\n')
    with pytest.raises(ValueError, match="prompt"):
        load_prompts(tmp_path / "p.jsonl")


# --- difficulty (pure parts) -------------------------------------------------------------------

def _entry(step, k):
    return {"hash": f"h{step}-{k}", "step": step, "program": f"def f(a):\n    return a + {k}", "input": str(step),
            "output": str(step + k)}


def test_draw_questions_balanced_and_seeded():
    entries = [_entry(s, k) for s in range(0, 100) for k in range(3)]
    entries.append({"step": 5, "inputs": ["1"], "outputs": ["1"], "program": "def f(a): return a"})  # induction
    qs = draw_questions(entries, per_bucket=10, every=25, seed=1)
    assert [sum(q.bucket == b for q in qs) for b in (0, 25, 50, 75)] == [10, 10, 10, 10]
    assert all(bucket_of(q.step, 25, "separate") == q.bucket for q in qs)
    assert qs == draw_questions(entries, per_bucket=10, every=25, seed=1)
    assert qs != draw_questions(entries, per_bucket=10, every=25, seed=2)
    small = draw_questions(entries[:6], per_bucket=10, every=25)  # a short bucket keeps what it has
    assert len(small) == 6
    dup = draw_questions([_entry(3, 1), dict(_entry(7, 1), step=7, input="3", hash="x")], per_bucket=5)
    assert len(dup) == 1 and dup[0].step == 3  # same program+input: drawn once, earliest step
    with pytest.raises(ValueError):
        draw_questions(entries, per_bucket=0)


def test_seed_proposals_get_their_own_bucket_and_totals_spread_evenly():
    from azr.analysis.difficulty import SEED_BUCKET, format_table, per_bucket_for

    entries = [_entry(s, k) for s in range(0, 100) for k in range(3)]
    seeds = [q for q in draw_questions(entries, per_bucket=10, every=25) if q.step == 0]
    assert seeds and all(q.bucket == SEED_BUCKET for q in seeds)  # not among steps 1-24
    assert all(q.step != 0 for q in draw_questions(entries, per_bucket=10, every=25, seeds="exclude"))
    assert {q.bucket for q in draw_questions(entries, 1000, 25, seeds="include") if q.step == 0} == {0}
    assert per_bucket_for(entries, 800, every=25) == 160  # 5 buckets: seed, 0, 25, 50, 75
    assert per_bucket_for(entries, 800, every=25, seeds="exclude") == 200
    stats = aggregate(seeds[:1], [Attempt("m", 0, True, 3, True)])
    assert "seed (step 0)" in format_table(stats, 25)


def test_questions_from_run(run):
    qs = questions_from_run(run, per_bucket=4, every=10)
    assert {q.bucket for q in qs} == {0, 10, 20, 30}


def test_aggregate_exact_numbers():
    qs = [Question(0, 1, "a", "p", "1", "1"), Question(0, 2, "b", "p", "2", "2"), Question(25, 30, "c", "p", "3", "3")]
    att = [Attempt("m", 0, True, 10, True), Attempt("m", 0, False, 20, True),  # q0: 0.5
           Attempt("m", 1, True, 30, True), Attempt("m", 1, True, 40, False),  # q1: 1.0
           Attempt("m", 2, False, 5, False), Attempt("base", 2, True, 7, True)]
    stats = {(s.model, s.bucket): s for s in aggregate(qs, att)}
    s = stats[("m", 0)]
    assert (s.questions, s.responses) == (2, 4)
    assert s.solve_rate == pytest.approx(0.75) and s.response_length == pytest.approx(25.0)
    assert s.solve_rate_se == pytest.approx(((0.125 / 1) / 2) ** 0.5) and s.parse_rate == pytest.approx(0.75)
    assert stats[("m", 25)].solve_rate == 0.0 and stats[("base", 25)].solve_rate == 1.0
    with pytest.raises(ValueError):
        aggregate(qs, [Attempt("m", 9, True, 1, True)])


def test_difficulty_cli_questions_only(run, capsys):
    assert _cli(["analyze", "difficulty", str(run), "--per-bucket", "3", "--every", "10", "--questions-only"]) == 0
    assert "per bucket of 10 steps" in capsys.readouterr().err
    assert _cli(["analyze", "difficulty", str(run)]) == 2  # no --models
