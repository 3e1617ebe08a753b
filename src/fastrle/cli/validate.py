"""``fastrle validate``: fastrle against pycocotools on real files, one by one
(no Dask) or as a whole dataset on a Dask cluster.

File mode (today's, no Dask): plain files and none of ``--scheduler``,
``--workers``, ``--report``. Dataset mode (:func:`fastrle.jobs.validate`):
any of those options, or a tar shard, a directory or an unexpanded glob
among the sources.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, List

from ..jobs.sources import SHARD_SUFFIXES
from ._jobs import add_cluster_options, run_job


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``validate``."""
    v = sub.add_parser(
        "validate", help="compare fastrle with pycocotools on files or whole datasets (Dask)",
        description="File mode (plain JSON files, none of --scheduler/--workers/--report; no Dask "
                    "needed): decode every RLE in COCO annotation/results files or SA-1B "
                    "per-image files with fastrle.mask and pycocotools.mask and compare bit for "
                    "bit. Exit 0: all equal; 1: mismatch; 2: pycocotools missing or a file "
                    "unreadable. Dataset mode (any of those options, or SA-1B tar shards, "
                    "directories or globs among the sources; needs pip install 'fastrle[dask]'): "
                    "one Dask task per source; also checks each mask's area and bbox against the "
                    "file's own fields; malformed entries and damaged sources are counted, never "
                    "fatal. Exit 0 only when there is no problem at all; 1: problems; 2: usage "
                    "error or Dask/pycocotools missing.")
    v.add_argument("files", nargs="+", metavar="SRC")
    add_cluster_options(v)
    v.add_argument("--report", metavar="REPORT.parquet",
                   help="write every problem (source, image_id, index, reason) to this Parquet file")
    return v


def dataset_mode(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for the Dask dataset check rather than today's file check."""
    if args.scheduler or args.workers or args.report:
        return True
    return any(os.path.isdir(f) or f.lower().endswith(SHARD_SUFFIXES)
               or (not os.path.exists(f) and any(c in f for c in "*?[")) for f in args.files)


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; 0 when every mask matches."""
    if dataset_mode(args):
        return run_job(lambda: _run_dataset(args))
    return _run_files(args.files)


def _run_dataset(args: argparse.Namespace) -> int:
    try:
        import pycocotools.mask  # noqa: F401
    except ImportError:
        print("error: pycocotools is not installed; nothing to compare against "
              "(pip install pycocotools)", file=sys.stderr)
        return 2
    from .. import jobs

    s = jobs.validate(args.files, scheduler=args.scheduler, workers=args.workers)
    print(s.text())
    if args.report:
        import pyarrow.parquet as pq

        tmp = f"{args.report}.tmp-{os.getpid()}"
        pq.write_table(s.report_table(), tmp)
        os.replace(tmp, args.report)
        print(f"report: {args.report} ({len(s.problems)} rows)")
    return 0 if s.ok else 1


def _run_files(files: List[str]) -> int:
    from .. import validate

    try:
        from pycocotools import mask as pm
    except ImportError:
        print("error: pycocotools is not installed; nothing to compare against "
              "(pip install pycocotools)", file=sys.stderr)
        return 2
    from .. import mask as fm

    try:
        rep = validate.validate_files(files, fm=fm, pm=pm)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(rep.summary())
    return 1 if rep.mismatches else 0
