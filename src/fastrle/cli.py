"""Command line: ``fastrle bench`` and ``fastrle validate``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]


def _size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``1500x2250``)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 1500x2250, got {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError("height and width must be positive")
    return h, w


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for both subcommands."""
    from . import bench

    p = argparse.ArgumentParser(prog="fastrle", description="fastrle tools")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="compare fastrle with memset and its peers",
                       description="Time fastrle side by side with memset, pycocotools, rlemasklib "
                                   "and hotcoco on synthetic SA-1B-like and COCO-like masks.")
    b.add_argument("--size", type=_size, help="SA-1B-like image size HxW (default 1500x2250)")
    b.add_argument("--masks", type=_positive, help="masks per SA-1B-like image (default 100)")
    b.add_argument("--threads", type=_positive, help="threads for the threads case (default 2)")
    b.add_argument("--repeats", type=_positive, help="repeats per measurement; the median is "
                                                     "reported (default 7)")
    b.add_argument("--mode", choices=sorted(bench.MODES), default="all",
                   help="warm: preallocated buffers; fresh: output allocated per call")
    b.add_argument("--case", nargs="+", metavar="NAME",
                   choices=list(bench.CASES) + sorted(bench.CASE_ALIASES),
                   help="run only these cases (overrides --mode): "
                        + ", ".join(f"{k} ({v[0]})" for k, v in bench.CASES.items()))
    b.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    b.add_argument("--json", action="store_true", help="print JSON instead of the table")
    b.add_argument("--plot", metavar="FILE.png", help="save a bar chart (needs matplotlib)")
    b.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    b.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    b.add_argument("--strict", action="store_true", help="exit 1 if any target FAILs")
    b.add_argument("--sa1b", action="store_true",
                   help="run the SA-1B end-to-end cases instead: read a per-image JSON file and "
                        "decode every mask, vs json.load + pycocotools + np.stack")

    v = sub.add_parser("validate", help="compare fastrle.mask with pycocotools.mask on files",
                       description="Decode every RLE in COCO annotation/results files or SA-1B "
                                   "per-image files with fastrle.mask and pycocotools.mask and "
                                   "compare bit for bit. Exit 0: all equal; 1: mismatch; "
                                   "2: pycocotools missing or a file unreadable.")
    v.add_argument("files", nargs="+", metavar="FILE")
    return p


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    over = {k: v for k, v in (("masks", args.masks), ("threads", args.threads),
                              ("repeats", args.repeats)) if v is not None}
    if args.size:
        over["h"], over["w"] = args.size
    if args.sa1b:
        from . import sa1b_bench

        over["seed"] = args.seed
        cfg = (sa1b_bench.SA1BBenchConfig.quick_config(**over) if args.quick
               else sa1b_bench.SA1BBenchConfig(**over))
        results = sa1b_bench.run(cfg, progress=not args.no_progress)
    else:
        over.update(mode=args.mode, cases=args.case, seed=args.seed)
        cfg = bench.BenchConfig.quick_config(**over) if args.quick else bench.BenchConfig(**over)
        results = bench.run(cfg, progress=not args.no_progress)
    if args.quick:
        bench.unjudged(results)
    if args.json:
        print(json.dumps(bench.to_json_obj(results, cfg), indent=2))
    else:
        env = bench.environment()
        print("# " + ", ".join(f"{k} {v}" for k, v in env.items() if k != "platform"))
        print(bench.format_table(results))
    if args.plot:
        bench.plot(results, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if any(r.verified is False for r in results):
        print("error: fastrle output differs from the reference", file=sys.stderr)
        return 1
    if args.strict and any(x.status == "FAIL" for r in results for x in r.ratios):
        return 1
    return 0


def _validate(args: argparse.Namespace) -> int:
    from . import validate

    try:
        from pycocotools import mask as pm
    except ImportError:
        print("error: pycocotools is not installed; nothing to compare against", file=sys.stderr)
        return 2
    from . import mask as fm

    try:
        rep = validate.validate_files(args.files, fm=fm, pm=pm)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(rep.summary())
    return 1 if rep.mismatches else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastrle`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _bench(args) if args.command == "bench" else _validate(args)
    except BrokenPipeError:  # `fastrle bench | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
