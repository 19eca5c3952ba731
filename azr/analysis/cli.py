"""``azr analyze sparsity|entropy|difficulty|passk`` and ``azr report``.

Cheap to import: the analysis modules (and torch, for the model-running modes) are
imported inside the handlers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    analyze = sub.add_parser("analyze", help="measurements of the self-play study (sparsity, entropy, ...)")
    asub = analyze.add_subparsers(dest="analysis", metavar="ANALYSIS")
    analyze.set_defaults(func=lambda args: (analyze.print_help(sys.stderr), 2)[1])

    p = asub.add_parser("sparsity", help="update sparsity between checkpoints",
                        description="Update sparsity S = 1 - ||B - A||_0 / n between two HF checkpoints (A B), "
                                    "or between the checkpoints of a run directory (RUN). Checkpoints stored in "
                                    "different float dtypes (an fp32 checkpoint against a bf16 base) are compared "
                                    "in the coarser dtype after rounding the finer side to nearest even; the "
                                    "output says so in a note.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="A B (checkpoint folders or .safetensors files), or RUN")
    p.add_argument("--mode", choices=("consecutive", "first", "base"), default=None,
                   help="with RUN: consecutive checkpoints (default), each vs the first, or each vs --base")
    p.add_argument("--base", default=None, help="base checkpoint: compare every checkpoint of RUN with it")
    p.add_argument("--atol", type=float, default=None,
                   help="count |delta| < ATOL as unchanged (the study: 1e-5); exact counts are reported too")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--tensors", action="store_true", help="per-tensor rows in the table")
    p.add_argument("--chunk-mb", type=int, default=32, help="read buffer per side, MiB (default 32)")
    p.set_defaults(func=_sparsity)

    p = asub.add_parser("entropy", help="policy entropy curves from runs, or of a checkpoint offline")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run directories (curves from metrics.jsonl)")
    p.add_argument("--checkpoint", default=None, help="measure token entropy of this HF checkpoint instead")
    p.add_argument("--prompts", default=None,
                   help="prompt set for --checkpoint: JSONL with 'prompt' (+ 'role','task'), a JSON list, or a RUN")
    p.add_argument("--limit", type=int, default=64, help="at most this many prompts (default 64)")
    p.add_argument("--samples", type=int, default=4, help="responses per prompt (default 4)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="response budget (default: the run's rollout.max_new_tokens when --prompts is a run "
                        "directory, the training budget the study's entropy was measured under; else 8096, "
                        "AZR's training budget)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--plot", default=None, help="also write the curves to this PNG")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_entropy)

    p = asub.add_parser("difficulty", help="solve rate and response length by question step (RQ2)",
                        description="Difficulty evolution as the study measured it: deduction questions drawn "
                                    "from the run's buffers in buckets of proposing steps (defaults: 800 "
                                    "questions spread evenly over buckets of 25 steps, the base model's seed "
                                    "proposals in their own bucket), 8 responses per question at temperature 1.0, "
                                    "up to the run's training response budget (rollout.max_new_tokens).")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--models", nargs="+", default=[], help="HF checkpoints to sample (e.g. trained and base)")
    p.add_argument("--labels", nargs="+", default=None, help="legend labels, one per model")
    p.add_argument("--questions", type=int, default=800,
                   help="total questions, spread evenly over the buckets (default 800, the study's)")
    p.add_argument("--per-bucket", type=int, default=None,
                   help="questions per step bucket instead of --questions")
    p.add_argument("--every", type=int, default=25, help="bucket width in steps (default 25, the study's)")
    p.add_argument("--seeds", choices=("separate", "exclude", "include"), default="separate",
                   help="the base model's seed proposals (step 0): their own bucket (default), left out, "
                        "or counted in the first bucket")
    p.add_argument("--samples", type=int, default=8, help="responses per question (default 8, the study's)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="response budget (default: the run's rollout.max_new_tokens, the training budget; "
                        "8096 when the run does not say)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--output", default=None, help="JSON output (default RUN/analysis/difficulty.json)")
    p.add_argument("--questions-only", action="store_true", help="only draw and count the questions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_difficulty)

    p = asub.add_parser("passk", help="pass@k curves from `azr eval` results, base first")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="summary.json files or eval output folders")
    p.add_argument("--labels", nargs="+", default=None, help="legend labels, one per RESULTS")
    p.add_argument("--plot", default=None, help="also write the curves to this PNG")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_passk)

    p = sub.add_parser("report", help="HTML report with the study's figures from run directories")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--eval", nargs="+", default=[], metavar="RESULTS", help="`azr eval` results (base first)")
    p.add_argument("--baseline", nargs="+", default=[], metavar="RUN", help="RLVR/SFT baseline run directories")
    p.add_argument("--output", default=None, help="output folder (default: FIRST_RUN/report)")
    p.add_argument("--atol", type=float, default=None, help="sparsity tolerance (default: exact)")
    p.add_argument("--title", default="azr report")
    p.add_argument("--figures", nargs="+", default=None, metavar="KEY",
                   help="only these figures: passk difficulty proposal_difficulty entropy sparsity rewards "
                        "response_length training")
    p.set_defaults(func=_report)


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


AZR_RESPONSE_BUDGET = 8096
"""data.max_response_length of the reference's self-play scripts (branch paper)."""


def _run_budget(path) -> int:
    """``rollout.max_new_tokens`` of a run directory's config, else ``AZR_RESPONSE_BUDGET``."""
    from azr.analysis.rundir import load_config

    try:
        value = (load_config(path).get("rollout") or {}).get("max_new_tokens")
    except (OSError, ValueError):
        return AZR_RESPONSE_BUDGET
    return int(value) if isinstance(value, int) and value > 0 else AZR_RESPONSE_BUDGET


def _sparsity(args) -> int:
    from azr.analysis.rundir import RunError, check_run_dir, list_checkpoints
    from azr.analysis.safetensors_io import CheckpointError
    from azr.analysis.sparsity import checkpoint_pairs, compute_sparsity, format_table

    try:
        if len(args.paths) == 2 and args.mode is None and args.base is None:
            pairs = [(Path(args.paths[0]), Path(args.paths[1]))]
        elif len(args.paths) == 1:
            run = check_run_dir(args.paths[0])
            ckpts = [c.path for c in list_checkpoints(run)]
            mode = args.mode or ("base" if args.base else "consecutive")
            from azr.rl.rundir import find_model_folder  # the trainer's rule: working directory, then the repository

            base = (find_model_folder(args.base) or Path(args.base)) if args.base else None
            pairs = checkpoint_pairs(ckpts, mode, base)
        else:
            return _fail("give two checkpoints A B, or one run directory (with --mode/--base)")
        results = [compute_sparsity(a, b, atol=args.atol, chunk_bytes=args.chunk_mb << 20) for a, b in pairs]
    except (CheckpointError, RunError, ValueError) as e:
        return _fail(str(e))
    if args.json:
        js = [r.to_json() for r in results]
        print(json.dumps(js[0] if len(js) == 1 else {"pairs": js}, indent=1))
    else:
        print(format_table(results, per_tensor=args.tensors))
    return 0


def _entropy(args) -> int:
    from azr.analysis.entropy import entropy_curves, format_curves_table, load_prompts, measure_checkpoint_entropy
    from azr.analysis.rundir import RunError, check_run_dir, run_label

    if args.checkpoint:
        if not args.prompts:
            return _fail("--checkpoint needs --prompts (a JSONL/JSON prompt file or a run directory)")
        try:
            prompts = load_prompts(args.prompts, args.limit)
            budget = args.max_new_tokens or _run_budget(args.prompts)
            print(f"response budget: {budget} new tokens", file=sys.stderr)
            res = measure_checkpoint_entropy(args.checkpoint, prompts, samples=args.samples,
                                             max_new_tokens=budget, temperature=args.temperature,
                                             seed=args.seed, batch_size=args.batch_size, device=args.device)
        except (ValueError, OSError) as e:
            return _fail(str(e))
        if args.json:
            print(json.dumps(res, indent=1))
        else:
            print(f"{res['checkpoint']}: mean token entropy {res['overall']:.4f} nats over {res['responses']} "
                  f"responses ({res['tokens']} tokens, T={res['temperature']})")
            for g, h in res["by_group"].items():
                print(f"  {g:<20} {h:.4f}")
        return 0
    if not args.runs:
        return _fail("give run directories, or --checkpoint CKPT --prompts FILE")
    try:
        curves = {run_label(r): entropy_curves(check_run_dir(r)) for r in args.runs}
    except RunError as e:
        return _fail(str(e))
    if args.plot:
        from azr.analysis.plots import plot_entropy

        print(f"wrote {plot_entropy({k: v for k, v in curves.items() if v}, Path(args.plot))}", file=sys.stderr)
    if args.json:
        print(json.dumps({lbl: {k: {"steps": s, "values": v} for k, (s, v) in c.items()} for lbl, c in curves.items()}))
    else:
        print(format_curves_table(curves))
    return 0


def _difficulty(args) -> int:
    from azr.analysis import difficulty as d
    from azr.analysis.rundir import RunError, check_run_dir

    try:
        run = check_run_dir(args.run)
        questions = d.questions_from_run(run, args.per_bucket, args.every, args.seed, seeds=args.seeds,
                                         total=args.questions)
    except (RunError, ValueError) as e:
        return _fail(str(e))
    if not questions:
        return _fail(f"{run}: no proposed deduction tasks in its buffers (entries with a step >= 0 and "
                     "program, input, output; the zero-triplet seeds are not questions)")
    counts = d.count_buckets(questions)
    print(f"{len(questions)} deduction questions; per bucket of {args.every} steps: "
          + ", ".join(f"{d.bucket_label(b, args.every)}: {n}" for b, n in counts.items()), file=sys.stderr)
    if args.questions_only:
        return 0
    if not args.models:
        return _fail("--models A [B ...] is required (or --questions-only)")
    labels = args.labels or [Path(m).name for m in args.models]
    if len(labels) != len(args.models):
        return _fail(f"{len(labels)} labels for {len(args.models)} models")
    attempts = []
    try:
        from azr.analysis.rundir import load_config
        from azr.rollout.config import ModelConfig, RolloutConfig

        # prompt the models the way the run prompted its solver (chat template, stop strings)
        run_cfg = load_config(run)
        run_rollout = run_cfg.get("rollout") or {}
        run_selfplay = run_cfg.get("selfplay") or {}
        stop = tuple(run_rollout["stop"]) if isinstance(run_rollout.get("stop"), list) else RolloutConfig().stop
        rollout = RolloutConfig(stop=stop, chat_template=bool(run_rollout.get("chat_template", False)))
        budget = args.max_new_tokens or _run_budget(run)
        print(f"response budget: {budget} new tokens", file=sys.stderr)
        from azr.rollout.hf import HFEngine
        from azr.rollout.models import load_model, load_tokenizer

        from azr.rl.rundir import RunError, model_path_problem, resolve_model_path

        for path, label in zip(args.models, labels):
            problem = model_path_problem(path, "--models")
            if problem is not None:
                return _fail(problem)
            try:
                path = resolve_model_path(path)  # the trainer's rules: working directory, then the repository
            except RunError as e:
                return _fail(f"--models {path}: {e}")
            model = load_model(ModelConfig(path=path, dtype="auto", device=args.device))
            model.eval()
            engine = HFEngine(model, load_tokenizer(path), rollout)
            attempts += d.solve_questions(engine, questions, label, samples=args.samples,
                                          max_new_tokens=budget, temperature=args.temperature,
                                          seed=args.seed,
                                          template_set=run_selfplay.get("template_set", "reference"),
                                          answer_format=run_selfplay.get("answer_format", "reference"))
            del model, engine
    except (ImportError, ValueError, OSError) as e:
        return _fail(f"could not run the models: {e}")
    stats = d.aggregate(questions, attempts)
    settings = {"models": dict(zip(labels, args.models)), "samples": args.samples, "temperature": args.temperature,
                "max_new_tokens": budget, "questions": len(questions), "seeds": args.seeds, "seed": args.seed}
    js = d.to_json(str(run), questions, stats, args.every, settings)
    out = Path(args.output) if args.output else run / "analysis" / "difficulty.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(js, indent=1))
    print(json.dumps(js, indent=1) if args.json else d.format_table(stats, args.every))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _passk(args) -> int:
    from azr.analysis.passk import EvalResultError, by_benchmark, comparisons, format_table, load_curves

    try:
        curves = load_curves(args.results, args.labels)
    except (EvalResultError, ValueError) as e:
        return _fail(str(e))
    if args.plot:
        from azr.analysis.plots import plot_passk

        print(f"wrote {plot_passk(by_benchmark(curves), Path(args.plot))}", file=sys.stderr)
    if args.json:
        print(json.dumps({"curves": [{"label": c.label, "benchmark": c.benchmark, "ks": list(c.ks),
                                      "pass@k": list(c.values), "ci": list(c.ci), "source": c.source}
                                     for c in curves], "comparisons": comparisons(curves)}, indent=1))
    else:
        print(format_table(curves))
    return 0


def _report(args) -> int:
    from azr.analysis.passk import EvalResultError
    from azr.analysis.report import build_report
    from azr.analysis.rundir import RunError

    try:
        index, figures = build_report(args.runs, args.eval, args.baseline, args.output, args.atol, args.title,
                                      args.figures)
    except (RunError, EvalResultError, ValueError) as e:
        return _fail(str(e))
    for f in figures:
        print(f"  {'ok  ' if f.file else 'need'} {f.title}" + ("" if f.file else f": {f.missing}"), file=sys.stderr)
    print(index)
    return 0
