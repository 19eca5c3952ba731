"""The ``azr`` command line.

Each subsystem owns its sub-commands in a small ``cli`` module that exposes
``register(subparsers)``; this file only lists those modules. Command modules must be
cheap to import (no torch at import time): heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
