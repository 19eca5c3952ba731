"""Launch an ``azr`` command data-parallel with torchrun.

    python -m azr.distributed.launch --nproc 4 -- train --preset coder3b --set run.run_dir=runs/x
    python -m azr.distributed.launch --nproc 8 --nnodes 2 --node-rank 0 \\
        --master-addr 10.0.0.1 --master-port 29500 -- train --preset coder7b

is ``python -m torch.distributed.run --nproc-per-node N [...] -m azr <command ...>``: torchrun
starts N processes per node with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set, and the command
picks them up through ``azr.distributed.dist.init_distributed``. ``--dry-run`` prints the
torchrun command instead of running it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def torchrun_command(nproc: int, azr_args: list[str], *, nnodes: int = 1, node_rank: int = 0,
                     master_addr: str | None = None, master_port: int | None = None) -> list[str]:
    """The torchrun command line that runs ``azr <azr_args>`` on ``nproc`` local processes."""
    if nproc < 1 or nnodes < 1:
        raise ValueError("nproc and nnodes must be >= 1")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", f"--nnodes={nnodes}"]
    if nnodes > 1:
        cmd.append(f"--node-rank={node_rank}")
    else:
        cmd.append("--standalone")
    if master_addr:
        cmd.append(f"--master-addr={master_addr}")
    if master_port:
        cmd.append(f"--master-port={master_port}")
    return [*cmd, "-m", "azr", *azr_args]


def rank_argv(command: str, args, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What each rank runs for a training command's parsed ``args`` (``azr train``, ``azr rlvr``,
    ``azr sft``): ``command``, its --preset/--config/--run-dir/--resume/--steps, ``extra``, its
    --set overrides; never --nproc."""
    out = [command]
    for flag, value in (("--preset", args.preset), ("--config", args.config), ("--run-dir", args.run_dir),
                        ("--resume", args.resume)):
        if value:
            out += [flag, str(value)]
    if args.steps is not None:
        out += ["--steps", str(args.steps)]
    out += list(extra)
    for o in args.overrides:
        out += ["--set", o]
    return out


def relaunch(nproc: int, azr_args: list[str]) -> None:
    """Replace this process by torchrun running ``azr <azr_args>`` on ``nproc`` local processes
    (torchrun's exit code becomes ours)."""
    cmd = torchrun_command(nproc, azr_args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        cut = argv.index("--")
        own, azr_args = argv[:cut], argv[cut + 1:]
    else:
        own, azr_args = argv, []
    ap = argparse.ArgumentParser(prog="python -m azr.distributed.launch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nproc", type=int, required=True, help="processes (GPUs) per node")
    ap.add_argument("--nnodes", type=int, default=1)
    ap.add_argument("--node-rank", type=int, default=0)
    ap.add_argument("--master-addr", default=None)
    ap.add_argument("--master-port", type=int, default=None)
    ap.add_argument("--dry-run", action="store_true", help="print the torchrun command and exit")
    args = ap.parse_args(own)
    if not azr_args:
        ap.error("give the azr command after '--', e.g. -- train --preset tiny")
    cmd = torchrun_command(args.nproc, azr_args, nnodes=args.nnodes, node_rank=args.node_rank,
                           master_addr=args.master_addr, master_port=args.master_port)
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    os.execv(cmd[0], cmd)  # replaces this process: torchrun's exit code is ours
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
