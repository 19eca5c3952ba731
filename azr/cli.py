"""The ``azr`` command line.

Each subsystem owns its sub-commands in a small ``cli`` module that exposes
``register(subparsers)``; this file only lists those modules. Command modules must be
cheap to import (no torch at import time): heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# One line per subsystem; each module defines ``register(subparsers) -> None`` and every
# parser it adds sets ``func`` (a callable taking the parsed args, returning an exit code).
COMMAND_MODULES: tuple[str, ...] = (
    "azr.tasks.cli",
    "azr.eval.cli",
    "azr.selfplay.cli",
    "azr.analysis.cli",
    "azr.baselines.cli",
    "azr.pretrain.cli",
    "azr.study.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azr",
        description="Absolute Zero self-play for LLM reasoning, with the analysis toolkit.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


#: Exit status of a command whose reader went away (``azr ... | head``): 128 + SIGPIPE, as a shell reports it.
EXIT_BROKEN_PIPE = 141


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into a closed pipe stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (e.g. captured)
        pass


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status.

    Anticipated failures that reach this point (``ConfigError``, ``RunError``: a bad setting,
    a missing model, a full disk, ...) are printed as one line and exit 2; a closed output pipe
    exits quietly with ``EXIT_BROKEN_PIPE``."""
    from azr.config import ConfigError
    from azr.rl.rundir import RunError

    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except (ConfigError, RunError) as e:
        print(f"azr {args.command}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    raise SystemExit(main())
