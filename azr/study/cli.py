"""``azr study``: train the study's arms from one base model, evaluate, analyse, report.
Cheap to import (no torch)."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path


def register(subparsers) -> None:
    from azr.study.config import ARMS

    p = subparsers.add_parser(
        "study",
        help="toy-scale replication of the self-play study: arms, evaluation, analyses, one report",
        description=(
            "azr study --preset tiny [--steps N] [--arms A ...] [--out DIR] [--jobs J]\n\n"
            "Trains every arm from the preset's base model with the same seed and number of steps\n"
            f"(arms: {', '.join(ARMS)}), one run directory per arm under DIR; evaluates the base\n"
            "and every arm on the generator benchmarks gen-o/gen-i/gen-f (pass@k for k = 1..n);\n"
            "runs azr analyze sparsity/difficulty; writes DIR/report.md (and DIR/report/index.html).\n"
            "Run it again to continue a killed study: finished arms and evaluations are skipped, a\n"
            "partial arm resumes from its last checkpoint. Defaults: azr/presets/<preset>.study.yaml."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", default="tiny", help="bundled preset of every arm (default tiny)")
    p.add_argument("--out", default=None, help="study folder (default runs/study-<preset>)")
    p.add_argument("--steps", type=int, help="training steps of every arm")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), help="arms to train (default all)")
    p.add_argument("--seed", type=int, help="run.seed of every arm and the evaluation sampling seed")
    p.add_argument("--eval-n", type=int, help="samples per problem (pass@k for k = 1..n)")
    p.add_argument("--eval-limit", type=int, help="problems per generator benchmark")
    p.add_argument("--eval-temperature", type=float, help="sampling temperature of the evaluation")
    p.add_argument("--cruxeval", action="store_true", help="also evaluate CRUXEval-O/-I (needs the data)")
    p.add_argument("--difficulty-questions", type=int, help="questions of azr analyze difficulty (0: skip)")
    p.add_argument("--difficulty-samples", type=int, help="responses per difficulty question")
    p.add_argument("--difficulty-buckets", type=int,
                   help="step buckets of the difficulty analysis (2: first half vs second half of training)")
    p.add_argument("--jobs", type=int, help="arms trained at once (default 1; each uses one thread)")
    p.add_argument("--set", dest="sets", action="append", default=None, metavar="KEY=VALUE",
                   help="a setting of every arm, after the study preset's; ARM:KEY=VALUE for one arm "
                        "(e.g. rlvr:rlvr.generated_size=64; repeatable)")
    p.add_argument("--no-html", action="store_true", help="skip the HTML report (azr report)")
    p.set_defaults(func=_main)


def _config(args):
    from azr.study.config import StudyConfig, study_preset

    values = study_preset(args.preset)
    given = {"steps": args.steps, "arms": tuple(args.arms) if args.arms else None, "seed": args.seed,
             "eval_n": args.eval_n, "eval_limit": args.eval_limit, "eval_temperature": args.eval_temperature,
             "difficulty_questions": args.difficulty_questions, "difficulty_samples": args.difficulty_samples,
             "difficulty_buckets": args.difficulty_buckets, "jobs": args.jobs}
    values.update({k: v for k, v in given.items() if v is not None})
    from azr.study.config import ARMS

    arm_sets = {k: tuple(v) for k, v in values.get("arm_sets", {}).items()}
    for s in args.sets or ():
        arm, sep, rest = s.partition(":")
        if sep and arm in ARMS and "=" in rest and "=" not in arm:  # ARM:KEY=VALUE: one arm only
            arm_sets[arm] = arm_sets.get(arm, ()) + (rest,)
        else:
            values["sets"] = tuple(values.get("sets", ())) + (s,)
    values["arm_sets"] = arm_sets
    if args.cruxeval:
        values["cruxeval"] = True
    if args.no_html:
        values["html"] = False
    values["out"] = args.out or f"runs/study-{args.preset}"
    known = {f.name for f in fields(StudyConfig)}
    return StudyConfig(preset=args.preset, **{k: v for k, v in values.items() if k in known and k != "preset"})


def _main(args) -> int:
    from azr.study import report
    from azr.study.runner import StudyError, run_study

    try:
        cfg = _config(args)
    except (ValueError, OSError) as e:
        print(f"azr study: {e}", file=sys.stderr)
        return 2
    if cfg.cruxeval:
        from azr.rl.rundir import data_dir

        root = data_dir(None)
        if not (root / "cruxeval" / "cruxeval.jsonl").is_file():
            print(f"azr study: --cruxeval: cruxeval/cruxeval.jsonl is not in the data directory ({root}); "
                  "run `azr data download cruxeval-o`", file=sys.stderr)
            return 2
    command = "azr " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["study"] else "azr study"
    try:
        result = run_study(cfg)
    except StudyError as e:
        print(f"azr study: {e}", file=sys.stderr)
        return 1
    path = report.write(cfg, result, command)
    if cfg.html:
        _html(cfg)
    print(path)
    return 0


def _html(cfg) -> None:
    """``azr report`` of the arms into OUT/report/ (best effort: the markdown page is the report)."""
    from azr.study.config import SELFPLAY_ARMS

    out = Path(cfg.out)
    runs = [str(out / a) for a in cfg.arms if a in SELFPLAY_ARMS]
    baselines = [str(out / a) for a in cfg.arms if a not in SELFPLAY_ARMS]
    bench = cfg.benchmarks[0]
    evals = [str(out / n / "eval" / bench) for n in ("base", *cfg.arms)]
    if not runs:
        return
    argv = [sys.executable, "-m", "azr", "report", *runs, "--eval", *evals, "--output", str(out / "report")]
    if baselines:
        argv += ["--baseline", *baselines]
    with open(out / "logs" / "report.log", "a", encoding="utf-8") as f:
        rc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        print(f"azr study: the HTML report failed (see {out / 'logs' / 'report.log'}); report.md is complete",
              file=sys.stderr)
