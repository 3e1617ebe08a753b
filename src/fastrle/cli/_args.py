"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
from typing import Tuple


def size(text: str) -> Tuple[int, int]:
    """Parse ``HxW`` (e.g. ``1500x2250``)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 1500x2250, got {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError("height and width must be positive")
    return h, w


def positive(text: str) -> int:
    """Parse an int >= 1."""
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v
