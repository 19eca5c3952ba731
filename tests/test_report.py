"""`azr report` on synthetic run directories in the documented layout."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from azr.analysis import cli
from azr.analysis.report import DIFFICULTY_FILE, build_report
from azr.analysis.synthetic import write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="azr")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def write_eval(root, name: str, p: float, seed: int, n: int = 8, problems: int = 30):
    """An `azr eval`-style summary.json with per-problem counts."""
    from azr.eval.passk import pass_at_k_table

    rng = np.random.default_rng(seed)
    cs = [int(rng.binomial(n, min(1.0, max(0.0, p + rng.normal(0, 0.2))))) for _ in range(problems)]
    scores, cis = pass_at_k_table([n] * problems, cs)
    out = root / name / "humanevalplus"
    out.mkdir(parents=True)
    (out / "summary.json").write_text(json.dumps({
        "benchmark": "humanevalplus", "n": n, "pass@k": scores, "ci": cis, "model": f"/models/{name}",
        "per_problem": [{"task_id": f"HumanEval/{i}", "n": n, "c": c} for i, c in enumerate(cs)]}))
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    std = write_run(root, "std", steps=30, checkpoint_every=10)
    eq3 = write_run(root, "eq3", steps=30, checkpoint_every=10, proposer_reward="eq3", seed=1)
    frozen = write_run(root, "frozen", steps=30, checkpoint_every=15, frozen=True, seed=2)
    rlvr = write_run(root, "rlvr", steps=30, checkpoint_every=15, seed=3, kind="rlvr", changed_per_step=5)
    evals = [write_eval(root / "evals", "base", 0.3, 0), write_eval(root / "evals", "trained", 0.45, 1)]
    return {"root": root, "std": std, "eq3": eq3, "frozen": frozen, "rlvr": rlvr, "evals": evals}


@pytest.mark.slow
def test_full_report_renders_every_supported_figure(runs, tmp_path):
    out = tmp_path / "report"
    index, figures = build_report([runs["std"], runs["eq3"], runs["frozen"]], runs["evals"], [runs["rlvr"]],
                                  output=out)
    made = {f.key for f in figures if f.file}
    assert made == {"passk", "proposal_difficulty", "entropy", "sparsity", "rewards", "response_length", "training"}
    page = index.read_text()
    for f in figures:
        if f.file:
            assert (out / f.file).read_bytes()[:8] == PNG_MAGIC
            assert f"src='{f.file}'" in page and f.caption
    # the one figure without data is listed with what it needs, not an error
    assert "Figures that need more data" in page and "azr analyze difficulty" in page
    assert not re.search(r"(src|href)=['\"]https?:", page)  # self-contained: nothing fetched
    sparsity = json.loads((out / "sparsity.json").read_text())
    # std: steps 0 -> 30, 3 intervals of 10 steps x 40 changed elements each, spread over 3 tensors
    assert {k.split(" ")[0] for k in sparsity} == {"std", "eq3", "frozen", "rlvr"}
    assert "reward=eq3" in page and "frozen proposer" in page and "passk" in page
    assert "p (paired sign-flip)" in page  # base vs trained comparison table


def test_bare_run_lists_missing_figures(tmp_path):
    run = tmp_path / "bare"
    run.mkdir()
    rows = [{"step": s, "entropy/overall": 1.0 - 0.01 * s, "solve/deduction/accuracy": 0.1} for s in range(1, 6)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "entr')
    (run / "report").mkdir()
    (run / "report" / "mine.png").write_bytes(b"user file")
    index, figures = build_report([run])
    assert index == run / "report" / "index.html" and index.exists()
    assert (run / "report" / "mine.png").read_bytes() == b"user file"  # only our own figures are replaced
    by_key = {f.key: f for f in figures}
    assert by_key["entropy"].file and by_key["training"].file
    for key in ("passk", "difficulty", "sparsity", "rewards", "response_length", "proposal_difficulty"):
        assert by_key[key].file is None and by_key[key].missing


def test_difficulty_results_are_plotted(runs, tmp_path):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(runs["std"], run)
    stats = [{"model": m, "bucket": b, "questions": 4, "responses": 32, "solve_rate": r, "solve_rate_se": 0.05,
              "response_length": 100 + b, "parse_rate": 0.9}
             for m, base in (("trained", 0.6), ("base", 0.4)) for b, r in ((0, base), (10, base - 0.1), (20, base - 0.2))]
    (run / DIFFICULTY_FILE).parent.mkdir(parents=True)
    (run / DIFFICULTY_FILE).write_text(json.dumps({"bucket_every": 10, "stats": stats, "questions_per_bucket":
                                                   {"0": 4, "10": 4, "20": 4}, "settings": {"samples": 8}}))
    _, figures = build_report([run], output=tmp_path / "out", only=["difficulty"])
    assert [f.key for f in figures] == ["difficulty"]
    fig = figures[0]
    assert fig.file == "difficulty.png" and "buckets of 10 steps" in fig.caption
    (run / DIFFICULTY_FILE).write_text("{truncated")
    _, figures = build_report([run], output=tmp_path / "out", only=["difficulty"])
    assert figures[0].file is None and "unusable" in figures[0].missing


def test_report_cli_prints_path_and_rejects_non_runs(runs, tmp_path, capsys):
    argv = ["report", str(runs["std"]), "--output", str(tmp_path / "r"), "--figures", "passk", "sparsity"]
    assert _run_cli(argv) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r" / "index.html")
    assert (tmp_path / "r" / "sparsity.png").exists() and not (tmp_path / "r" / "entropy.png").exists()
    assert _run_cli(argv[:-2] + ["nonsense"]) == 2
    (tmp_path / "empty").mkdir()
    assert _run_cli(["report", str(tmp_path / "empty")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert _run_cli(["report", str(runs["std"]), "--eval", str(tmp_path / "empty")]) == 2
