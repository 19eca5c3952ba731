"""``azr train``: Absolute Zero self-play training.

    azr train [--preset NAME] [--config FILE.yaml] [--set key=value ...] [--steps N]
              [--run-dir DIR] [--resume RUN_DIR] [--nproc N]
    azr train --preset coder7b --plan [--gpus N] [--gpu-mem GIB] [--host-mem GIB]

The config is resolved (defaults <- preset <- file <- --set) and checked before anything
runs; errors name the offending key. ``--resume RUN_DIR`` reads ``RUN_DIR/config.yaml``
(``--set``/``--steps`` may still change it, e.g. to train longer) and continues from the
newest checkpoint. ``--nproc N`` (N > 1) re-runs the command under torchrun with N
data-parallel processes (gloo on CPU, one GPU each with nccl); only rank 0 writes the run
directory. ``--set executor.backend=ray`` runs the sandbox as Ray actors. ``--plan`` prints
the memory plan per GPU (``azr.plan``) and exits. Cheap to import:
torch is imported by the handler.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="Absolute Zero self-play training",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", help="bundled preset: tiny, coder3b, coder7b")
    p.add_argument("--config", help="YAML config file (sections: model, rollout, executor, advantage, "
                                    "loss, optim, checkpoint, selfplay, reward, run, controls)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set optim.lr=1e-6 (repeatable)")
    p.add_argument("--steps", type=int, help="number of steps (selfplay.steps)")
    p.add_argument("--run-dir", help="run directory (run.run_dir)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="data-parallel processes on this machine (N > 1: relaunch under torchrun)")
    p.add_argument("--plan", action="store_true",
                   help="print the memory per GPU of each part and the largest settings that fit, then exit "
                        "(exit 2 when nothing fits; azr.plan)")
    from azr.plan import add_arguments

    add_arguments(p)  # --gpus --gpu-mem --host-mem --prompt-tokens (used with --plan)
    p.set_defaults(func=run)


def resolve(args) -> "object":
    """The checked ``Config`` of the parsed arguments (raises ``ConfigError``)."""
    from azr.config import ConfigError, load_config, load_resume_config

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"selfplay.steps={args.steps}")
    if args.resume:
        if args.preset or args.config or args.run_dir:
            raise ConfigError("--resume takes the run's own config.yaml; --preset/--config/--run-dir do not apply")
        return load_resume_config(args.resume, overrides)
    if args.run_dir:
        overrides.append(f"run.run_dir={args.run_dir}")
    cfg = load_config(args.preset, args.config, overrides)
    if not cfg.model.path:
        raise ConfigError("model.path is empty: use a preset (--preset tiny) or --set model.path=FOLDER")
    return cfg


def run(args) -> int:
    from azr.config import ConfigError, to_dict

    try:
        cfg = resolve(args)
    except ConfigError as e:
        print(f"azr train: config error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0
    if args.plan:
        from azr.plan import run_plan

        return run_plan(cfg, args.gpus, args.gpu_mem, args.prompt_tokens, title=args.preset or args.config or "",
                        host_gib=args.host_mem)
    if args.nproc < 1:
        print("azr train: --nproc must be >= 1", file=sys.stderr)
        return 2
    if args.nproc > 1 and "RANK" not in os.environ:
        from azr.distributed.launch import rank_argv, relaunch

        relaunch(args.nproc, rank_argv("train", args))  # replaces this process
    from azr.selfplay.trainer import train

    try:
        run_dir = train(cfg, resume=bool(args.resume))
    except FileExistsError as e:
        print(f"azr train: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("azr train: interrupted; continue with --resume", file=sys.stderr)
        return 130
    print(f"run directory: {run_dir}")
    return 0
