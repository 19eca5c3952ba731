"""``azr eval BENCH... --model PATH | --samples FILE``, ``azr eval compare A B``,
``azr data download``. Cheap to import: no torch, no benchmark data read at import."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


STUDY_N = 256
"""Samples per problem of ``--study``: enough for pass@k curves to k = 256."""
STUDY_MAX_NEW_TOKENS = 8096
"""Response budget of ``--study``: the reference's data.max_response_length (branch paper)."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="sample a model on benchmarks and score pass@k; or `azr eval compare A B`",
        description=(
            "azr eval BENCH... (--model PATH | --samples FILE) --output DIR  -- sample/score.\n"
            "azr eval compare A.json B.json  -- per-k differences with a paired test.\n"
            "Benchmarks: humaneval humanevalplus mbppplus cruxeval-o cruxeval-i livecodebench\n"
            "livecodebench-v5 aime24 aime25 amc23 math500 minerva_math olympiadbench gsm8k;\n"
            "generator benchmarks (held-out generated tasks, --template azr | azr-tiny): gen-o gen-i gen-f."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("benchmarks", nargs="+", metavar="BENCH", help="benchmark names (or: compare A B)")
    src = p.add_argument_group("what to score")
    src.add_argument("--model", help="local model folder (Hugging Face format) to sample")
    src.add_argument("--samples", help="existing samples .jsonl ({task_id, completion|solution})")
    smp = p.add_argument_group("sampling")
    smp.add_argument("--n", type=int, default=None,
                     help=f"samples per problem (default 1; {STUDY_N} with --study)")
    smp.add_argument("--temperature", type=float, default=0.8)
    smp.add_argument("--top-p", type=float, default=0.95)
    smp.add_argument("--max-new-tokens", type=int, default=None,
                     help=f"response budget (default 512; {STUDY_MAX_NEW_TOKENS} with --study)")
    smp.add_argument("--study", action="store_true",
                     help=f"pass@k-curve settings: n = {STUDY_N} samples per problem (pass@k up to k = {STUDY_N}) "
                          f"and a {STUDY_MAX_NEW_TOKENS}-token budget (AZR's training response length); "
                          "--n/--max-new-tokens still override. See docs/fidelity.md")
    smp.add_argument("--template", default="plain", help="prompt template: plain | azr | azr-tiny")
    smp.add_argument("--chat-template", action="store_true", help="wrap prompts with the tokenizer's chat template")
    smp.add_argument("--seed", type=int, default=0)
    smp.add_argument("--device", default="auto")
    smp.add_argument("--batch-prompts", type=int, default=16, help="prompts per generate() call")
    out = p.add_argument_group("scoring and output")
    out.add_argument("--output", "-o", help="output folder (one sub-folder per benchmark when several)")
    out.add_argument("--data-dir", help="benchmark data directory (default: $AZR_DATA_DIR)")
    out.add_argument("--limit", type=int, help="first N problems only (quick runs)")
    out.add_argument("--k", type=int, nargs="+", help="k values (default 1, 2, 4, ... <= n, and n)")
    out.add_argument("--workers", type=int, default=2, help="sandbox workers (default 2)")
    out.add_argument("--math-workers", type=int, default=2, help="math-verify processes (0: in-process)")
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    out.add_argument("--json", dest="json_out", help="compare: also write the comparison as JSON here")
    p.set_defaults(func=_eval_main)

    d = subparsers.add_parser("data", help="benchmark data: download / verify")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION")
    dl = dsub.add_parser("download", help="fetch benchmark files (sha256-verified) into the data directory")
    dl.add_argument("benchmarks", nargs="*", metavar="BENCH", help="benchmarks (default: all files)")
    dl.add_argument("--data-dir", help="destination (default: $AZR_DATA_DIR or ~/.cache/azr/data)")
    dl.add_argument("--base-url", default=None, help="raw-file base URL (default raw.githubusercontent.com)")
    dl.add_argument("--force", action="store_true", help="re-download files that are present")
    dl.set_defaults(func=_download_main)
    vf = dsub.add_parser("verify", help="check the sha256 of every file in the data directory")
    vf.add_argument("--data-dir")
    vf.set_defaults(func=_verify_main)
    d.set_defaults(func=lambda args: (d.print_help(sys.stderr), 2)[1])


def _eval_main(args) -> int:
    if args.benchmarks[0] == "compare":
        return _compare_main(args)
    from azr.eval.benchmarks import BENCHMARKS
    from azr.eval.data import DataError
    from azr.eval.results import SamplesError, format_table
    from azr.eval.runner import SamplingSpec, evaluate, load_engine
    from azr.eval.types import EvalSettings, ScoringContext

    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        print(f"azr eval: unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    generated = [b for b in args.benchmarks if BENCHMARKS[b].kind in ("gen-o", "gen-i", "gen-f")]
    if generated and args.model and args.template == "plain":
        print(f"azr eval: {generated[0]} is scored as the trainer's solver: give --template azr-tiny "
              "(the tiny model's prompts) or --template azr", file=sys.stderr)
        return 2
    if bool(args.model) == bool(args.samples):
        print("azr eval: give exactly one of --model PATH or --samples FILE", file=sys.stderr)
        return 2
    if args.samples and len(args.benchmarks) != 1:
        print("azr eval: --samples scores one benchmark at a time", file=sys.stderr)
        return 2
    if not args.output:
        print("azr eval: --output DIR is required", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print(f"azr eval: --limit must be >= 1, got {args.limit}", file=sys.stderr)
        return 2
    n, max_new = sampling_defaults(args)
    try:
        spec = SamplingSpec(n=n, temperature=args.temperature, top_p=args.top_p,
                            max_new_tokens=max_new, template=args.template,
                            seed=args.seed, batch_prompts=args.batch_prompts,
                            chat_template=args.chat_template)
        settings = EvalSettings(workers=args.workers, math_workers=args.math_workers,
                                progress=not args.no_progress)
    except ValueError as exc:
        print(f"azr eval: {exc}", file=sys.stderr)
        return 2
    if args.data_dir and not Path(args.data_dir).expanduser().is_dir():
        print(f"azr eval: --data-dir: no such directory {args.data_dir}", file=sys.stderr)
        return 2
    engine = None
    if args.model:
        from azr.rl.rundir import RunError, model_path_problem, resolve_model_path

        problem = model_path_problem(args.model, "--model")
        if problem is not None:
            print(f"azr eval: {problem}", file=sys.stderr)
            return 2
        try:
            model_path = resolve_model_path(args.model)  # the trainer's rules: cwd, then the repository
            engine = load_engine(model_path, args.device, args.chat_template)
        except RunError as exc:  # the bundled tiny model's name while it is absent
            print(f"azr eval: --model {args.model}: {exc}", file=sys.stderr)
            return 2
        except (OSError, ValueError) as exc:  # a hub id that does not resolve, unreadable weights
            first = (str(exc).strip().splitlines() or [""])[0]
            print(f"azr eval: --model {args.model}: the model does not load ({type(exc).__name__}: {first})",
                  file=sys.stderr)
            return 2
    out_root = Path(args.output)
    summaries = []
    with ScoringContext(settings) as ctx:
        for bench in args.benchmarks:
            out_dir = out_root if len(args.benchmarks) == 1 else out_root / bench
            try:
                summary = evaluate(bench, out_dir, engine=engine, samples_path=args.samples,
                                   spec=spec, settings=settings, data_dir=args.data_dir,
                                   limit=args.limit, ks=args.k, ctx=ctx,
                                   meta={"model": args.model})
            except (DataError, SamplesError) as exc:  # the user's data: exit 2 like every user error
                print(f"azr eval: {exc}", file=sys.stderr)
                return 2
            summaries.append(summary)
    print(format_table(summaries))
    print(f"outputs in {out_root}")
    return 0


def sampling_defaults(args) -> tuple[int, int]:
    """``(n, max_new_tokens)``: the given values, else ``--study``'s, else 1 and 512."""
    n = args.n if args.n is not None else (STUDY_N if args.study else 1)
    max_new = args.max_new_tokens if args.max_new_tokens is not None else (STUDY_MAX_NEW_TOKENS if args.study else 512)
    return n, max_new


def _compare_main(args) -> int:
    from azr.eval.compare import compare, format_comparison, run_labels
    from azr.eval.runner import load_summary

    paths = args.benchmarks[1:]
    if len(paths) != 2:
        print("usage: azr eval compare A.json B.json", file=sys.stderr)
        return 2
    try:
        a, b = (load_summary(p) for p in paths)
        result = compare(a, b)
    except (OSError, ValueError) as exc:
        print(f"azr eval compare: {exc}", file=sys.stderr)
        return 2
    print(format_comparison(result, *run_labels(paths)))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _download_main(args) -> int:
    from azr.eval.data import DEFAULT_BASE_URL, DataError, data_dir, download_file, files_for

    try:
        entries = files_for(args.benchmarks)
    except DataError as exc:
        print(f"azr data download: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for entry in entries:
        try:
            path, action = download_file(entry, args.data_dir, args.base_url or DEFAULT_BASE_URL, args.force)
            print(f"{action:>10}  {path}")
        except DataError as exc:
            failures += 1
            print(f"{'FAILED':>10}  {entry.file}: {exc}", file=sys.stderr)
    print(f"{len(entries) - failures}/{len(entries)} files ready in {data_dir(args.data_dir)}")
    return 1 if failures else 0


def _verify_main(args) -> int:
    from azr.eval.data import DataError, verified_path
    from azr.eval.manifest import MANIFEST

    bad = 0
    for entry in MANIFEST:
        try:
            verified_path(entry.file, args.data_dir)
            print(f"{'ok':>8}  {entry.file}")
        except DataError as exc:
            bad += 1
            print(f"{'BAD':>8}  {exc}")
    return 1 if bad else 0
