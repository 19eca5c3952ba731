"""``azr rlvr`` and ``azr sft``: the same-code baselines of the self-play study.

    azr rlvr [--preset NAME] [--config FILE.yaml] [--set key=value ...] [--dataset FILE ...]
             [--steps N] [--run-dir DIR] [--resume RUN_DIR] [--force] [--nproc N]
    azr sft  (same options)

The config is the self-play config plus the ``rlvr``, ``sft`` and ``controls`` sections
(``azr.baselines.config``), resolved as defaults <- preset <- command overlay <- file <-
--set and checked before anything runs. ``--dataset`` takes JSONL files of triplets, folders
of them, or run directories (their buffers); without it a generator-made dataset is used.
Known evaluation benchmarks are refused unless ``--force``. Both run in the self-play run
loop (``azr.selfplay.loop``): ``--resume`` continues exactly, ``--nproc N`` (N > 1) re-runs the
command under torchrun with N data-parallel processes. Cheap to import (no torch).
"""

from __future__ import annotations

import argparse
import os
import sys

COMMANDS = {
    "rlvr": "RL with verifiable rewards over a fixed dataset (GRPO groups; the self-play RL core)",
    "sft": "supervised fine-tuning on solutions (reference answers or verified own samples)",
}


def register(subparsers) -> None:
    for name, help_text in COMMANDS.items():
        p = subparsers.add_parser(name, help=help_text, description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--preset", help="bundled preset: tiny, coder3b, coder7b")
        p.add_argument("--config", help="YAML config file (self-play sections plus rlvr, sft, controls)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override one setting, e.g. --set rlvr.group_size=8 (repeatable)")
        p.add_argument("--dataset", action="append", default=[], metavar="FILE",
                       help="dataset file / folder / run directory (repeatable; rlvr.dataset)")
        p.add_argument("--steps", type=int, help=f"number of steps ({name}.steps)")
        p.add_argument("--run-dir", help="run directory (run.run_dir)")
        p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
        p.add_argument("--force", action="store_true", help="train on a dataset even if it is an evaluation benchmark")
        p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
        p.add_argument("--nproc", type=int, default=1, metavar="N",
                       help="data-parallel processes on this machine (N > 1: relaunch under torchrun)")
        p.set_defaults(func=run, baseline=name)


def resolve(args):
    """The checked ``BaselineConfig`` of the parsed arguments (raises ``ConfigError``)."""
    import json

    from azr.baselines.config import BaselineConfig, load_baseline_config
    from azr.config import ConfigError, load_resume_config

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"{args.baseline}.steps={args.steps}")
    if args.dataset:
        overrides.append(f"rlvr.dataset={json.dumps(args.dataset)}")
    if args.force:
        overrides.append("rlvr.force_dataset=true")
    if args.resume:
        if args.preset or args.config or args.run_dir:
            raise ConfigError("--resume takes the run's own config.yaml; --preset/--config/--run-dir do not apply")
        return load_resume_config(args.resume, overrides, BaselineConfig, kind=args.baseline)
    if args.run_dir:
        overrides.append(f"run.run_dir={args.run_dir}")
    return load_baseline_config(args.baseline, args.preset, args.config, overrides)


def run(args) -> int:
    from azr.baselines.dataset import DatasetError
    from azr.config import ConfigError, to_dict

    prog = f"azr {args.baseline}"
    try:
        cfg = resolve(args)
    except ConfigError as e:
        print(f"{prog}: config error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0
    if args.nproc < 1:
        print(f"{prog}: --nproc must be >= 1", file=sys.stderr)
        return 2
    if args.nproc > 1 and "RANK" not in os.environ:
        from azr.distributed.launch import rank_argv, relaunch

        extra = [x for d in args.dataset for x in ("--dataset", d)] + (["--force"] if args.force else [])
        relaunch(args.nproc, rank_argv(args.baseline, args, extra))  # replaces this process
    if args.baseline == "rlvr":
        from azr.baselines.rlvr import train_rlvr as train
    else:
        from azr.baselines.sft import train_sft as train
    try:
        run_dir = train(cfg, resume=bool(args.resume))
    except DatasetError as e:
        print(f"{prog}: dataset error: {e}", file=sys.stderr)
        return 2
    except FileExistsError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; continue with --resume", file=sys.stderr)
        return 130
    print(f"run directory: {run_dir}")
    return 0
