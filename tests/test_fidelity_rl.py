"""Reference fidelity (issue 17): the analysis and evaluation defaults that follow the study."""

from __future__ import annotations

import argparse

import yaml


def _parser():
    from azr.analysis import cli as analysis_cli
    from azr.eval import cli as eval_cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    analysis_cli.register(sub)
    eval_cli.register(sub)
    return parser


def test_analysis_budgets_default_to_the_runs_training_budget(tmp_path):
    from azr.analysis.cli import AZR_RESPONSE_BUDGET, _run_budget

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"rollout": {"max_new_tokens": 321}}))
    assert _run_budget(tmp_path) == 321
    assert _run_budget(tmp_path / "prompts.jsonl") == AZR_RESPONSE_BUDGET == 8096
    args = _parser().parse_args(["analyze", "difficulty", str(tmp_path)])
    assert (args.questions, args.per_bucket, args.every, args.samples, args.seeds) == (800, None, 25, 8, "separate")
    assert args.max_new_tokens is None  # resolved from the run
    assert _parser().parse_args(["analyze", "entropy", "--checkpoint", "c"]).max_new_tokens is None


def test_eval_study_preset_and_plain_defaults(capsys):
    from azr.eval.cli import STUDY_MAX_NEW_TOKENS, STUDY_N

    assert (STUDY_N, STUDY_MAX_NEW_TOKENS) == (256, 8096)
    args = _parser().parse_args(["eval", "humanevalplus", "--model", "m", "--study"])
    from azr.eval.cli import sampling_defaults

    assert sampling_defaults(args) == (256, 8096)
    assert sampling_defaults(_parser().parse_args(["eval", "mbppplus", "--model", "m"])) == (1, 512)
    assert sampling_defaults(_parser().parse_args(["eval", "mbppplus", "--model", "m", "--study", "--n", "8"])) == (8, 8096)
    parser = _parser()
    try:
        parser.parse_args(["eval", "--help"])
    except SystemExit:
        pass
    out = " ".join(capsys.readouterr().out.split())
    assert "--study" in out and "k = 256" in out
