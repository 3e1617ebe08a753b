"""``fastrle validate``: fastrle.mask against pycocotools.mask on real files."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``validate``."""
    v = sub.add_parser("validate", help="compare fastrle.mask with pycocotools.mask on files",
                       description="Decode every RLE in COCO annotation/results files or SA-1B "
                                   "per-image files with fastrle.mask and pycocotools.mask and "
                                   "compare bit for bit. Exit 0: all equal; 1: mismatch; "
                                   "2: pycocotools missing or a file unreadable.")
    v.add_argument("files", nargs="+", metavar="FILE")
    return v


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; 0 when every mask matches."""
    from .. import validate

    try:
        from pycocotools import mask as pm
    except ImportError:
        print("error: pycocotools is not installed; nothing to compare against "
              "(pip install pycocotools)", file=sys.stderr)
        return 2
    from .. import mask as fm

    try:
        rep = validate.validate_files(args.files, fm=fm, pm=pm)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(rep.summary())
    return 1 if rep.mismatches else 0
