"""The ``fastrle`` command. Each subcommand is one module of this package with
``add_parser(subparsers)`` and ``run(args) -> int``; :data:`COMMANDS` lists them."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional, Sequence

__all__ = ["main", "build_parser", "COMMANDS"]

# Subcommand modules, in help order.
COMMANDS = ["bench", "index", "validate", "show", "polygons"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = argparse.ArgumentParser(prog="fastrle", description="fastrle tools")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        mod = importlib.import_module(f"{__name__}.{name}")
        mod.add_parser(sub).set_defaults(_run=mod.run)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``fastrle`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except BrokenPipeError:  # `fastrle bench | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
